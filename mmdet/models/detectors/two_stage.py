"""Two-stage detectors: backbone, neck, RPN, RoI head."""

import warnings

from mmcv import ConfigDict

from ..builder import DETECTORS, build_backbone, build_head, build_neck
from ..dense_heads.cfg_check import check_cfg_keys
from .base import BaseDetector


@DETECTORS.register_module()
class TwoStageDetector(BaseDetector):
    """Backbone -> neck -> RPN proposals -> RoI head.

    Args:
        backbone (dict): backbone config.
        neck (dict, optional): neck config.
        rpn_head (dict, optional): RPN config (built with
            ``train_cfg.rpn`` / ``test_cfg.rpn``).
        roi_head (dict, optional): RoI head config (built with
            ``train_cfg.rcnn`` / ``test_cfg.rcnn``).
        train_cfg (dict, optional): ``rpn``, ``rpn_proposal``, ``rcnn``.
        test_cfg (dict, optional): ``rpn``, ``rcnn``.
        pretrained (str, optional): deprecated; handed to the backbone as
            its ``pretrained`` (an ImageNet checkpoint path).
        init_cfg (dict, optional): initialization config.
    """

    # the keys a model test_cfg may have (panoptic segmentors add theirs)
    _test_cfg_keys = ('rpn', 'rcnn')

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
        super().__init__(init_cfg)
        # attribute access (train_cfg.rpn) also for plain dicts
        train_cfg = ConfigDict(train_cfg) if train_cfg is not None else None
        test_cfg = ConfigDict(test_cfg) if test_cfg is not None else None
        check_cfg_keys(
            train_cfg, ('rpn', 'rpn_proposal', 'rcnn'), 'model train_cfg'
        )
        check_cfg_keys(test_cfg, self._test_cfg_keys, 'model test_cfg')
        if pretrained:
            warnings.warn(
                'DeprecationWarning: pretrained is deprecated, '
                'please use "init_cfg" instead'
            )
            backbone.pretrained = pretrained
        self.backbone = build_backbone(backbone)
        if neck is not None:
            self.neck = build_neck(neck)
        if rpn_head is not None:
            rpn_head = rpn_head.copy()
            rpn_head.update(
                train_cfg=train_cfg.rpn if train_cfg is not None else None,
                test_cfg=test_cfg.rpn if test_cfg is not None else None,
            )
            self.rpn_head = build_head(rpn_head)
        if roi_head is not None:
            roi_head = roi_head.copy()
            roi_head.update(
                train_cfg=train_cfg.rcnn if train_cfg is not None else None,
                test_cfg=test_cfg.rcnn if test_cfg is not None else None,
                pretrained=pretrained,
            )
            self.roi_head = build_head(roi_head)
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg

    @property
    def with_rpn(self):
        return hasattr(self, 'rpn_head') and self.rpn_head is not None

    @property
    def with_roi_head(self):
        return hasattr(self, 'roi_head') and self.roi_head is not None

    def extract_feat(self, img):
        """Backbone (and neck) features of a (B, 3, H, W) batch: a tuple of
        levels."""
        x = self.backbone(img)
        if self.with_neck:
            x = self.neck(x)
        return x

    def forward_dummy(self, img):
        """Raw outputs of both stages for FLOPs counting (1000 fixed
        proposals)."""
        outs = ()
        x = self.extract_feat(img)
        if self.with_rpn:
            outs = outs + (self.rpn_head(x),)
        proposals = img.new_tensor([[0.0, 0.0, 32.0, 32.0]]).repeat(1000, 1)
        return outs + (self.roi_head.forward_dummy(x, proposals),)

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
        """Losses of a training batch.

        Args:
            img (Tensor): (B, 3, H, W) normalized, padded images.
            img_metas (list[dict]): per image meta.
            gt_bboxes (list[Tensor]): per image (k, 4) boxes, x1y1x2y2 in
                input pixels.
            gt_labels (list[Tensor]): per image (k,) labels.
            gt_bboxes_ignore (list[Tensor], optional): boxes to ignore.
            gt_masks (list[BitmapMasks | PolygonMasks], optional): masks.
            proposals (list[Tensor], optional): precomputed proposals when
                there is no RPN.
            **kwargs: further targets for the RoI head (e.g. HTC's
                ``gt_semantic_seg``).

        Returns:
            dict[str, Tensor]: ``loss_rpn_cls``, ``loss_rpn_bbox``,
            ``loss_cls``, ``acc``, ``loss_bbox`` (and ``loss_mask``).
        """
        super().forward_train(img, img_metas)
        x = self.extract_feat(img)
        return self._two_stage_losses(
            x,
            img_metas,
            gt_bboxes,
            gt_labels,
            gt_bboxes_ignore,
            gt_masks,
            proposals,
            **kwargs,
        )

    def _two_stage_losses(
        self,
        x,
        img_metas,
        gt_bboxes,
        gt_labels,
        gt_bboxes_ignore,
        gt_masks,
        proposals,
        **kwargs,
    ):
        """RPN and RoI-head losses of the feature levels ``x``."""
        losses = dict()
        if self.with_rpn:
            proposal_cfg = self.train_cfg.get(
                'rpn_proposal', self.test_cfg.rpn
            )
            rpn_losses, proposal_list = self.rpn_head.forward_train(
                x,
                img_metas,
                gt_bboxes,
                gt_labels=None,
                gt_bboxes_ignore=gt_bboxes_ignore,
                proposal_cfg=proposal_cfg,
            )
            losses.update(rpn_losses)
        else:
            proposal_list = proposals
        losses.update(
            self.roi_head.forward_train(
                x,
                img_metas,
                proposal_list,
                gt_bboxes,
                gt_labels,
                gt_bboxes_ignore,
                gt_masks,
                **kwargs,
            )
        )
        return losses

    def simple_test(self, img, img_metas, proposals=None, rescale=False):
        """Detections of a batch without augmentation.

        Returns:
            list: per image, ``num_classes`` (n, 5) arrays (in original
            pixels with ``rescale``); with masks ``(bbox_results,
            segm_results)`` per image.
        """
        assert self.with_bbox, 'Bbox head must be implemented.'
        x = self.extract_feat(img)
        if proposals is None:
            proposal_list = self.rpn_head.simple_test_rpn(x, img_metas)
        else:
            proposal_list = proposals
        return self.roi_head.simple_test(
            x, proposal_list, img_metas, rescale=rescale
        )

    def aug_test(self, imgs, img_metas, rescale=False):
        """Detections merged over test-time augmentations (``rescale``
        must be True: the merged boxes are in original pixels)."""
        x = self.extract_feats(imgs)
        proposal_list = self.rpn_head.aug_test_rpn(x, img_metas)
        return self.roi_head.aug_test(
            x, proposal_list, img_metas, rescale=rescale
        )
