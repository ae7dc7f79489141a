"""Single-stage detectors: backbone, neck, one dense head."""

import warnings

from mmcv import ConfigDict

from mmdet.core import bbox2result
from ..builder import DETECTORS, build_backbone, build_head, build_neck
from .base import BaseDetector


@DETECTORS.register_module()
class SingleStageDetector(BaseDetector):
    """Backbone -> neck -> dense head that predicts the boxes directly.

    Args:
        backbone (dict): backbone config.
        neck (dict, optional): neck config.
        bbox_head (dict): dense head config (built with ``train_cfg`` and
            ``test_cfg``).
        train_cfg (dict, optional): the head's training settings.
        test_cfg (dict, optional): the head's test settings.
        pretrained (str, optional): deprecated; handed to the backbone as
            its ``pretrained`` (an ImageNet checkpoint path).
        init_cfg (dict, optional): initialization config.
    """

    def __init__(
        self,
        backbone,
        neck=None,
        bbox_head=None,
        train_cfg=None,
        test_cfg=None,
        pretrained=None,
        init_cfg=None,
    ):
        super().__init__(init_cfg)
        if bbox_head is None:
            raise ValueError(f'{type(self).__name__} needs a bbox_head')
        if pretrained:
            warnings.warn(
                'DeprecationWarning: pretrained is deprecated, '
                'please use "init_cfg" instead'
            )
            backbone.pretrained = pretrained
        self.backbone = build_backbone(backbone)
        if neck is not None:
            self.neck = build_neck(neck)
        train_cfg = ConfigDict(train_cfg) if train_cfg is not None else None
        test_cfg = ConfigDict(test_cfg) if test_cfg is not None else None
        bbox_head = bbox_head.copy()
        bbox_head.update(train_cfg=train_cfg, test_cfg=test_cfg)
        self.bbox_head = build_head(bbox_head)
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg

    def extract_feat(self, img):
        """Backbone (and neck) features of a (B, 3, H, W) batch."""
        x = self.backbone(img)
        if self.with_neck:
            x = self.neck(x)
        return x

    def forward_dummy(self, img):
        """The head's raw outputs, for FLOPs counting."""
        return self.bbox_head(self.extract_feat(img))

    def forward_train(
        self, img, img_metas, gt_bboxes, gt_labels, gt_bboxes_ignore=None
    ):
        """Losses of a training batch.

        Args:
            img (Tensor): (B, 3, H, W) normalized, padded images.
            img_metas (list[dict]): per image meta.
            gt_bboxes (list[Tensor]): per image (k, 4) x1y1x2y2 boxes in
                input pixels.
            gt_labels (list[Tensor]): per image (k,) labels.
            gt_bboxes_ignore (list[Tensor], optional): boxes to ignore.

        Returns:
            dict[str, Tensor | list[Tensor]]: the head's losses.
        """
        super().forward_train(img, img_metas)
        x = self.extract_feat(img)
        return self.bbox_head.forward_train(
            x, img_metas, gt_bboxes, gt_labels, gt_bboxes_ignore
        )

    def simple_test(self, img, img_metas, rescale=False):
        """Detections of a batch without augmentation.

        Returns:
            list[list[ndarray]]: per image, per class a (n, 5) array of
            ``x1, y1, x2, y2, score`` (original pixels with ``rescale``).
        """
        feat = self.extract_feat(img)
        results = self.bbox_head.simple_test(feat, img_metas, rescale=rescale)
        return [
            bbox2result(dets, labels, self.bbox_head.num_classes)
            for dets, labels in results
        ]

    def aug_test(self, imgs, img_metas, rescale=False):
        """Detections of one image merged over augmentations (the head's
        ``aug_test``: boxes of every augmentation before NMS, mapped back
        to the original image, then one class-wise NMS).

        Args:
            imgs (list[Tensor]): per augmentation (1, 3, H, W).
            img_metas (list[list[dict]]): per augmentation ``[meta]``.
        """
        if not hasattr(self.bbox_head, 'aug_test'):
            raise NotImplementedError(
                f'{type(self.bbox_head).__name__} has no aug_test'
            )
        results = self.bbox_head.aug_test(
            self.extract_feats(imgs), img_metas, rescale=rescale
        )
        return [
            bbox2result(dets, labels, self.bbox_head.num_classes)
            for dets, labels in results
        ]
