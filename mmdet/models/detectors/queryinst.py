"""QueryInst (Fang et al., ICCV 2021): Sparse R-CNN with dynamic masks."""

from ..builder import DETECTORS
from .sparse_rcnn import SparseRCNN


@DETECTORS.register_module()
class QueryInst(SparseRCNN):
    """Sparse R-CNN whose ``SparseRoIHead`` also has per-stage
    ``DynamicMaskHead`` s."""

    def __init__(
        self,
        backbone,
        rpn_head,
        roi_head,
        train_cfg,
        test_cfg,
        neck=None,
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
