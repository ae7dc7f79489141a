"""Export of detectors to ONNX and their inference in ONNX Runtime."""

from .deps import INSTALL_HINT, import_deploy_module
from .detector import (
    ExportableFeatureMaps,
    ExportableTwoStageDetector,
    pool_rois,
)
from .model_wrappers import ONNXRuntimeDetector, compare_results
from .ops import onnx_nms, topk_at_most

__all__ = [
    'INSTALL_HINT',
    'import_deploy_module',
    'ExportableFeatureMaps',
    'ExportableTwoStageDetector',
    'ONNXRuntimeDetector',
    'compare_results',
    'pool_rois',
    'onnx_nms',
    'topk_at_most',
]
