"""TOOD (Feng et al., 2021)."""

from ..builder import DETECTORS
from .single_stage import SingleStageDetector


@DETECTORS.register_module()
class TOOD(SingleStageDetector):
    """TOOD: a :class:`SingleStageDetector` with a :class:`TOODHead`,
    told the epoch by ``SetEpochInfoHook`` (its head warms up with ATSS
    for ``initial_epoch`` epochs)."""

    def __init__(
        self,
        backbone,
        neck,
        bbox_head,
        train_cfg=None,
        test_cfg=None,
        pretrained=None,
        init_cfg=None,
    ):
        super().__init__(
            backbone,
            neck,
            bbox_head,
            train_cfg,
            test_cfg,
            pretrained,
            init_cfg,
        )

    def set_epoch(self, epoch):
        """Called before each training epoch."""
        self.bbox_head.epoch = epoch
