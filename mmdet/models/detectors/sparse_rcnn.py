"""Sparse R-CNN (Sun et al., CVPR 2021)."""

from mmdet.utils.arg_errors import InvalidArgumentError
from ..builder import DETECTORS
from .two_stage import TwoStageDetector


@DETECTORS.register_module()
class SparseRCNN(TwoStageDetector):
    """Two-stage detector whose proposals are learned embeddings
    (``EmbeddingRPNHead``) refined by a ``SparseRoIHead``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.with_rpn:
            raise InvalidArgumentError(
                'SparseRCNN needs rpn_head (external proposals unsupported)'
            )

    def forward_train(
        self,
        img,
        img_metas,
        gt_bboxes,
        gt_labels,
        gt_bboxes_ignore=None,
        gt_masks=None,
        proposals=None,
        **kwargs,
    ):
        if proposals is not None:
            raise InvalidArgumentError(
                'SparseRCNN does not support external proposals'
            )
        x = self.extract_feat(img)
        boxes, feats, whwh = self.rpn_head.forward_train(x, img_metas)
        return self.roi_head.forward_train(
            x,
            boxes,
            feats,
            img_metas,
            gt_bboxes,
            gt_labels,
            gt_bboxes_ignore=gt_bboxes_ignore,
            gt_masks=gt_masks,
            imgs_whwh=whwh,
        )

    def simple_test(self, img, img_metas, rescale=False):
        x = self.extract_feat(img)
        boxes, feats, whwh = self.rpn_head.simple_test_rpn(x, img_metas)
        return self.roi_head.simple_test(
            x, boxes, feats, img_metas, imgs_whwh=whwh, rescale=rescale
        )

    def forward_dummy(self, img):
        x = self.extract_feat(img)
        metas = [dict(img_shape=(800, 1333, 3)) for _ in range(len(img))]
        boxes, feats, _ = self.rpn_head.simple_test_rpn(x, metas)
        return self.roi_head.forward_dummy(x, boxes, feats, metas)
