"""Guided-anchor region proposal head."""

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmdet.core import batched_nms
from mmdet.utils.arg_errors import check_arg
from ..builder import HEADS
from .guided_anchor_head import GuidedAnchorHead
from .rpn_head import PROPOSAL_CFG_KEYS, RPNHead, _upgrade_proposal_cfg


@HEADS.register_module()
class GARPNHead(GuidedAnchorHead):
    """A 3x3 conv + ReLU (``rpn_conv``) before the
    :class:`GuidedAnchorHead` branches; one class (objectness).

    Args:
        in_channels (int): input channels.
        init_cfg (dict): normal(0, 0.01) convs, prior-0.01 ``conv_loc``.
        **kwargs: :class:`GuidedAnchorHead`'s arguments.
    """

    test_cfg_keys = PROPOSAL_CFG_KEYS

    def __init__(
        self,
        in_channels,
        init_cfg=dict(
            type='Normal',
            layer='Conv2d',
            std=0.01,
            override=dict(
                type='Normal', name='conv_loc', std=0.01, bias_prob=0.01
            ),
        ),
        **kwargs,
    ):
        super().__init__(1, in_channels, init_cfg=init_cfg, **kwargs)

    def _init_layers(self):
        self.rpn_conv = nn.Conv2d(
            self.in_channels, self.feat_channels, 3, padding=1
        )
        super()._init_layers()

    def forward_single(self, x):
        return super().forward_single(F.relu(self.rpn_conv(x), inplace=True))

    def loss(
        self,
        cls_scores,
        bbox_preds,
        shape_preds,
        loc_preds,
        gt_bboxes,
        img_metas,
        gt_bboxes_ignore=None,
    ):
        """``loss_rpn_cls``, ``loss_rpn_bbox``, ``loss_anchor_shape``,
        ``loss_anchor_loc`` (per level lists)."""
        losses = super().loss(
            cls_scores,
            bbox_preds,
            shape_preds,
            loc_preds,
            gt_bboxes,
            None,
            img_metas,
            gt_bboxes_ignore=gt_bboxes_ignore,
        )
        return dict(
            loss_rpn_cls=losses['loss_cls'],
            loss_rpn_bbox=losses['loss_bbox'],
            loss_anchor_shape=losses['loss_shape'],
            loss_anchor_loc=losses['loss_loc'],
        )

    def _level_proposals(self, score, pred, anchors, mask, cfg, img_shape):
        """One level: the masked positions, the ``nms_pre`` best, decoded,
        small boxes dropped, NMS, the first ``nms_post`` -> (k, 5)."""
        logits = score.permute(1, 2, 0).reshape(-1, self.cls_out_channels)
        scores = self._class_scores(logits)[:, 0][mask]
        pred = pred.permute(1, 2, 0).reshape(-1, 4)[mask]
        if 0 < cfg['nms_pre'] < scores.size(0):
            scores, inds = scores.topk(cfg['nms_pre'])
            pred, anchors = pred[inds], anchors[inds]
        boxes = self.bbox_coder.decode(anchors, pred, max_shape=img_shape)
        if cfg['min_bbox_size'] >= 0:
            wh = boxes[:, 2:] - boxes[:, :2]
            keep = (wh > cfg['min_bbox_size']).all(dim=1)
            boxes, scores = boxes[keep], scores[keep]
        dets, _ = batched_nms(
            boxes, scores, torch.zeros_like(scores, dtype=torch.long), cfg.nms
        )
        return dets[: cfg['nms_post']]

    def _get_bboxes_single(
        self,
        cls_scores,
        bbox_preds,
        mlvl_anchors,
        mlvl_masks,
        img_meta,
        cfg,
        rescale=False,
        with_nms=True,
    ):
        """(n, 5) proposals of one image: per level NMS and ``nms_post``,
        then the ``max_per_img`` best of all levels (after one more NMS
        with ``nms_across_levels``)."""
        raw = dict(self.test_cfg if cfg is None else cfg)
        nms_post = raw.pop('nms_post', None)
        cfg = _upgrade_proposal_cfg(raw)
        cfg.nms_post = cfg.max_per_img if nms_post is None else nms_post
        check_arg(
            cfg.nms.get('type', 'nms') == 'nms',
            'GARPNHead',
            'only plain NMS is supported',
        )
        dets = torch.cat(
            [
                self._level_proposals(*args, cfg, img_meta['img_shape'])
                for args in zip(
                    cls_scores, bbox_preds, mlvl_anchors, mlvl_masks
                )
            ]
        )
        if cfg.get('nms_across_levels', False):
            dets, _ = batched_nms(
                dets[:, :4],
                dets[:, 4],
                torch.zeros_like(dets[:, 4], dtype=torch.long),
                cfg.nms,
            )
        else:
            order = dets[:, 4].argsort(descending=True)
            dets = dets[order]
        return dets[: cfg.max_per_img]

    def simple_test_rpn(self, x, img_metas):
        """Proposals of a batch: per image (n, 5)."""
        return self.get_bboxes(*self(x), img_metas=img_metas)

    aug_test_rpn = RPNHead.aug_test_rpn
