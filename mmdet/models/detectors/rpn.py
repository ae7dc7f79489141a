"""Region Proposal Network as a stand-alone detector (its results are
proposals, e.g. for :class:`FastRCNN` or proposal recall)."""

import warnings

from mmcv import ConfigDict

from mmdet.core import bbox_mapping
from ..builder import DETECTORS, build_backbone, build_head, build_neck
from .base import BaseDetector


@DETECTORS.register_module()
class RPN(BaseDetector):
    """Backbone -> neck -> RPN head; tests return proposals.

    Args:
        backbone (dict): backbone config.
        neck (dict | None): neck config.
        rpn_head (dict): RPN head config (built with ``train_cfg.rpn`` and
            ``test_cfg.rpn``).
        train_cfg (dict | None): with ``rpn``.
        test_cfg (dict): with ``rpn``.
        pretrained (str, optional): deprecated backbone checkpoint.
        init_cfg (dict, optional): initialization config.
    """

    def __init__(
        self,
        backbone,
        neck,
        rpn_head,
        train_cfg,
        test_cfg,
        pretrained=None,
        init_cfg=None,
    ):
        super().__init__(init_cfg)
        if pretrained:
            warnings.warn(
                'DeprecationWarning: pretrained is deprecated, '
                'please use "init_cfg" instead'
            )
            backbone.pretrained = pretrained
        train_cfg = ConfigDict(train_cfg) if train_cfg is not None else None
        test_cfg = ConfigDict(test_cfg)
        self.backbone = build_backbone(backbone)
        self.neck = build_neck(neck) if neck is not None else None
        rpn_head = rpn_head.copy()
        rpn_head.update(
            train_cfg=train_cfg.rpn if train_cfg is not None else None,
            test_cfg=test_cfg.rpn,
        )
        self.rpn_head = build_head(rpn_head)
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg

    def extract_feat(self, img):
        """Backbone (and neck) levels of a (B, 3, H, W) batch."""
        x = self.backbone(img)
        if self.with_neck:
            x = self.neck(x)
        return x

    def forward_dummy(self, img):
        """The RPN head's raw outputs, for FLOPs counting."""
        return self.rpn_head(self.extract_feat(img))

    def forward_train(
        self, img, img_metas, gt_bboxes=None, gt_bboxes_ignore=None
    ):
        """``loss_rpn_cls`` and ``loss_rpn_bbox`` of a batch (boxes only:
        every object is foreground)."""
        super().forward_train(img, img_metas)
        x = self.extract_feat(img)
        return self.rpn_head.forward_train(
            x, img_metas, gt_bboxes, None, gt_bboxes_ignore
        )

    def simple_test(self, img, img_metas, rescale=False):
        """Per image an (n, 5) float32 array ``x1, y1, x2, y2, score``
        (original pixels with ``rescale``, else input pixels)."""
        x = self.extract_feat(img)
        proposal_list = self.rpn_head.simple_test_rpn(x, img_metas)
        if rescale:
            for proposals, meta in zip(proposal_list, img_metas):
                scale = proposals.new_tensor(meta['scale_factor'])
                proposals[:, :4] /= scale
        return [p.detach().cpu().numpy() for p in proposal_list]

    def aug_test(self, imgs, img_metas, rescale=False):
        """Proposals merged over augmentations, per image (n, 5); without
        ``rescale`` mapped into the first augmentation's input pixels."""
        proposal_list = self.rpn_head.aug_test_rpn(
            self.extract_feats(imgs), img_metas
        )
        if not rescale:
            for proposals, meta in zip(proposal_list, img_metas[0]):
                proposals[:, :4] = bbox_mapping(
                    proposals[:, :4],
                    meta['img_shape'],
                    meta['scale_factor'],
                    meta['flip'],
                    meta.get('flip_direction', 'horizontal'),
                )
        return [p.detach().cpu().numpy() for p in proposal_list]

    def show_result(self, data, result, top_k=20, **kwargs):
        """Draw the first ``top_k`` proposals (all with ``top_k <= 0``)."""
        if top_k > 0:
            result = result[:top_k]
        kwargs.setdefault('score_thr', 0.0)
        return super().show_result(data, [result], **kwargs)
