"""Fast R-CNN (Girshick, 2015): a RoI head on precomputed proposals."""

from ..builder import DETECTORS
from .two_stage import TwoStageDetector


@DETECTORS.register_module()
class FastRCNN(TwoStageDetector):
    """A :class:`TwoStageDetector` without RPN: ``proposals`` (per image
    (n, 4) or (n, 5) in input pixels, from ``LoadProposals``) come with
    the data in training and testing."""

    def __init__(
        self,
        backbone,
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
            roi_head=roi_head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            pretrained=pretrained,
            init_cfg=init_cfg,
        )

    def forward_test(self, imgs, img_metas, proposals, **kwargs):
        """Test entry; ``proposals`` is a list over augmentations of lists
        over images (only one augmentation is supported)."""
        if isinstance(imgs, list) and len(imgs) > 1:
            raise NotImplementedError(
                'FastRCNN does not support test-time augmentation'
            )
        return super().forward_test(
            imgs, img_metas, proposals=proposals, **kwargs
        )
