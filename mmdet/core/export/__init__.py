"""Export of detectors to ONNX and their inference in ONNX Runtime."""

from .deps import INSTALL_HINT, import_deploy_module
from .detector import (
    ExportableCascadeRCNN,
    ExportableFeatureMaps,
    ExportableHTC,
    ExportableTwoStageDetector,
    pool_rois,
)
from .families import exportable_detector, mask_thr_of, num_classes_of
from .model_wrappers import ONNXRuntimeDetector, compare_results
from .ops import onnx_nms, topk_at_most
from .single_stage import ExportableSingleStageDetector

__all__ = [
    'INSTALL_HINT',
    'import_deploy_module',
    'ExportableCascadeRCNN',
    'ExportableFeatureMaps',
    'ExportableHTC',
    'ExportableSingleStageDetector',
    'ExportableTwoStageDetector',
    'ONNXRuntimeDetector',
    'exportable_detector',
    'mask_thr_of',
    'num_classes_of',
    'compare_results',
    'pool_rois',
    'onnx_nms',
    'topk_at_most',
]
