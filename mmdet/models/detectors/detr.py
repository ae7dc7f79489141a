"""DETR and Deformable DETR: a backbone (and for Deformable DETR a neck)
feeding a transformer head that needs the image metas (padding masks)."""

import warnings

from ..builder import DETECTORS
from .single_stage import SingleStageDetector


@DETECTORS.register_module()
class DETR(SingleStageDetector):
    """DETR (no neck): backbone -> ``DETRHead``."""

    def __init__(
        self,
        backbone,
        bbox_head,
        train_cfg=None,
        test_cfg=None,
        pretrained=None,
        init_cfg=None,
    ):
        super().__init__(
            backbone,
            None,
            bbox_head,
            train_cfg,
            test_cfg,
            pretrained,
            init_cfg,
        )

    def forward_dummy(self, img):
        """The head's raw outputs for unpadded images, for FLOPs counting
        (the attention's FLOPs are not counted)."""
        warnings.warn(
            'MultiheadAttention FLOPs are not counted: do not report the '
            "FLOPs of DETR's forward_dummy"
        )
        bs, _, h, w = img.shape
        metas = [
            dict(batch_input_shape=(h, w), img_shape=(h, w, 3))
            for _ in range(bs)
        ]
        return self.bbox_head(self.extract_feat(img), metas)


@DETECTORS.register_module()
class DeformableDETR(DETR):
    """Deformable DETR: backbone -> neck (ChannelMapper) ->
    ``DeformableDETRHead``; takes ``SingleStageDetector``'s arguments."""

    def __init__(self, *args, **kwargs):
        SingleStageDetector.__init__(self, *args, **kwargs)
