"""Which export module a detector takes, and the few facts about a
detector that the ONNX tools need whatever its family."""

from torch import nn

from .detector import (
    CASCADE_ROI_HEADS,
    HTC_ROI_HEADS,
    ExportableCascadeRCNN,
    ExportableHTC,
    ExportableTwoStageDetector,
)
from .detr import ExportableDETR
from .instance_seg import ExportableSOLO
from .single_stage import ExportableSingleStageDetector
from .sparse_rcnn import SPARSE_ROI_HEADS, ExportableSparseRCNN


def exportable_detector(model):
    """The traceable module computing ``model``'s one-image inference:
    :class:`ExportableCascadeRCNN`, :class:`ExportableHTC`,
    :class:`ExportableTwoStageDetector`, :class:`ExportableSparseRCNN`,
    :class:`ExportableSOLO` (a
    box-free segmentor: a mask head, no box head), :class:`ExportableDETR`
    (a query-based head) or :class:`ExportableSingleStageDetector`; a
    family without one raises ``NotImplementedError`` naming it."""
    if hasattr(model, 'roi_head') and hasattr(model, 'rpn_head'):
        if type(model.roi_head).__name__ in SPARSE_ROI_HEADS:
            return ExportableSparseRCNN(model)
        if type(model.roi_head).__name__ in CASCADE_ROI_HEADS:
            return ExportableCascadeRCNN(model)
        if type(model.roi_head).__name__ in HTC_ROI_HEADS:
            return ExportableHTC(model)
        return ExportableTwoStageDetector(model)
    if (
        getattr(model, 'mask_head', None) is not None
        and getattr(model, 'bbox_head', None) is None
    ):
        return ExportableSOLO(model)
    if hasattr(getattr(model, 'bbox_head', None), 'num_query'):
        return ExportableDETR(model)  # a query-based head
    return ExportableSingleStageDetector(model)


def _last(head):
    """The last stage's head of a cascade (a ModuleList), else ``head``."""
    return head[-1] if isinstance(head, nn.ModuleList) else head


def num_classes_of(model):
    """The number of classes a detector predicts."""
    if hasattr(model, 'roi_head'):
        return _last(model.roi_head.bbox_head).num_classes
    if getattr(model, 'bbox_head', None) is None:  # box-free
        return model.mask_head.num_classes
    return model.bbox_head.num_classes


def mask_thr_of(model):
    """The probability threshold of a detector's masks: ``mask_thr_binary``
    of an RoI head, ``mask_thr`` of a box-free mask head (0.5 without
    masks)."""
    roi_head = getattr(model, 'roi_head', None)
    if roi_head is None and getattr(model, 'mask_head', None) is not None:
        return (model.mask_head.test_cfg or {}).get('mask_thr', 0.5)
    cfg = getattr(roi_head, 'test_cfg', None) or {}
    return cfg.get('mask_thr_binary', 0.5)
