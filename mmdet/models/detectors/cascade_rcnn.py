"""Cascade R-CNN (Cai and Vasconcelos, 2018)."""

from ..builder import DETECTORS
from .two_stage import TwoStageDetector


@DETECTORS.register_module()
class CascadeRCNN(TwoStageDetector):
    """Cascade R-CNN (and, with mask heads, Cascade Mask R-CNN): a
    :class:`TwoStageDetector` whose RoI head is a
    :class:`~mmdet.models.roi_heads.CascadeRoIHead`."""

    def __init__(
        self,
        backbone,
        neck=None,
        rpn_head=None,
        roi_head=None,
        train_cfg=None,
        test_cfg=None,
        pretrained=None,
        init_cfg=None,
    ):
        super().__init__(
            backbone=backbone,
            neck=neck,
            rpn_head=rpn_head,
            roi_head=roi_head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            pretrained=pretrained,
            init_cfg=init_cfg,
        )

    def show_result(self, data, result, **kwargs):
        """Draw ``result``; also accepts the multi-stage form
        ``{'ensemble': ...}`` older MMDetection versions returned."""
        if self.with_mask:
            bbox_result, segm_result = result
            if isinstance(bbox_result, dict):
                result = (bbox_result['ensemble'], segm_result['ensemble'])
        elif isinstance(result, dict):
            result = result['ensemble']
        return super().show_result(data, result, **kwargs)
