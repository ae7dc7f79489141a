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
from .single_stage import ExportableSingleStageDetector


def exportable_detector(model):
    """The traceable module computing ``model``'s one-image inference:
    :class:`ExportableCascadeRCNN`, :class:`ExportableHTC`,
    :class:`ExportableTwoStageDetector` or
    :class:`ExportableSingleStageDetector`; a family without one raises
    ``NotImplementedError`` naming it."""
    if hasattr(model, 'roi_head') and hasattr(model, 'rpn_head'):
        if type(model.roi_head).__name__ in CASCADE_ROI_HEADS:
            return ExportableCascadeRCNN(model)
        if type(model.roi_head).__name__ in HTC_ROI_HEADS:
            return ExportableHTC(model)
        return ExportableTwoStageDetector(model)
    return ExportableSingleStageDetector(model)


def _last(head):
    """The last stage's head of a cascade (a ModuleList), else ``head``."""
    return head[-1] if isinstance(head, nn.ModuleList) else head


def num_classes_of(model):
    """The number of classes a detector predicts."""
    if hasattr(model, 'roi_head'):
        return _last(model.roi_head.bbox_head).num_classes
    return model.bbox_head.num_classes


def mask_thr_of(model):
    """``mask_thr_binary`` of a detector with masks (0.5 without one)."""
    roi_head = getattr(model, 'roi_head', None)
    cfg = getattr(roi_head, 'test_cfg', None) or {}
    return cfg.get('mask_thr_binary', 0.5)
