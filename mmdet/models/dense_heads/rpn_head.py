"""Region proposal network head (Faster R-CNN's first stage)."""

import copy
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv import ConfigDict
from mmcv.cnn import ConvModule

from mmdet.core import batched_nms, merge_aug_proposals
from ..builder import HEADS
from .anchor_head import AnchorHead
from .cfg_check import check_cfg_keys

PROPOSAL_CFG_KEYS = (
    'nms_pre',
    'max_per_img',
    'nms',
    'min_bbox_size',
    'max_num',
    'nms_thr',
    'nms_post',
    'nms_across_levels',
)


def _upgrade_proposal_cfg(cfg):
    """A copy of a proposal config with the deprecated keys of older
    MMDetection 2.x configs (``nms_thr``, ``max_num``, ``nms_post``,
    ``nms_across_levels``) turned into the current ones."""
    check_cfg_keys(cfg, PROPOSAL_CFG_KEYS, 'RPN proposal config')
    cfg = ConfigDict(copy.deepcopy(dict(cfg)))
    if 'nms_thr' in cfg:
        warnings.warn(
            'nms_thr in the RPN config is deprecated: use '
            "nms=dict(type='nms', iou_threshold=...)"
        )
        nms_thr = cfg.pop('nms_thr')
        if 'nms' in cfg:
            assert cfg.nms.iou_threshold == nms_thr, (
                'nms_thr and nms.iou_threshold differ'
            )
        else:
            cfg.nms = ConfigDict(type='nms', iou_threshold=nms_thr)
    if 'max_num' in cfg:
        warnings.warn(
            'max_num in the RPN config is deprecated: use max_per_img'
        )
        max_num = cfg.pop('max_num')
        if 'max_per_img' in cfg:
            assert cfg.max_per_img == max_num, 'max_num and max_per_img differ'
        else:
            cfg.max_per_img = max_num
    if 'nms_post' in cfg:
        warnings.warn(
            'nms_post in the RPN config is deprecated and '
            'ignored: max_per_img proposals are kept after NMS'
        )
        cfg.pop('nms_post')
    if 'nms' not in cfg or 'max_per_img' not in cfg:
        raise KeyError('the RPN proposal config needs nms and max_per_img')
    return cfg


@HEADS.register_module()
class RPNHead(AnchorHead):
    """RPN head: a shared 3x3 conv (``rpn_conv``) + ReLU, then 1x1 convs for
    objectness (``rpn_cls``) and box deltas (``rpn_reg``).

    Args:
        in_channels (int): channels of the input feature maps.
        init_cfg (dict): initialization config.
        num_convs (int): number of shared 3x3 convs.
        **kwargs: the other arguments of :class:`AnchorHead` (unknown
            names are errors there); ``num_classes`` is fixed to 1.
    """

    test_cfg_keys = PROPOSAL_CFG_KEYS

    def __init__(
        self,
        in_channels,
        init_cfg=dict(type='Normal', layer='Conv2d', std=0.01),
        num_convs=1,
        **kwargs,
    ):
        self.num_convs = num_convs
        super().__init__(1, in_channels, init_cfg=init_cfg, **kwargs)

    def _init_layers(self):
        if self.num_convs > 1:
            self.rpn_conv = nn.Sequential(
                *[
                    ConvModule(
                        self.in_channels if i == 0 else self.feat_channels,
                        self.feat_channels,
                        3,
                        padding=1,
                        inplace=False,
                    )
                    for i in range(self.num_convs)
                ]
            )
        else:
            self.rpn_conv = nn.Conv2d(
                self.in_channels, self.feat_channels, 3, padding=1
            )
        self.rpn_cls = nn.Conv2d(
            self.feat_channels, self.num_base_priors * self.cls_out_channels, 1
        )
        self.rpn_reg = nn.Conv2d(
            self.feat_channels, self.num_base_priors * 4, 1
        )

    def forward_single(self, x):
        """One level (B, C, H, W) -> objectness logits (B, A, H, W) (A*2
        with a softmax loss) and deltas (B, A*4, H, W)."""
        x = F.relu(self.rpn_conv(x), inplace=False)
        return self.rpn_cls(x), self.rpn_reg(x)

    def loss(
        self,
        cls_scores,
        bbox_preds,
        gt_bboxes,
        img_metas,
        gt_bboxes_ignore=None,
    ):
        """``loss_rpn_cls`` and ``loss_rpn_bbox`` (see AnchorHead.loss);
        every gt box is foreground, labels are not used."""
        losses = super().loss(
            cls_scores,
            bbox_preds,
            gt_bboxes,
            None,
            img_metas,
            gt_bboxes_ignore=gt_bboxes_ignore,
        )
        return dict(
            loss_rpn_cls=losses['loss_cls'], loss_rpn_bbox=losses['loss_bbox']
        )

    def _get_bboxes_single(
        self,
        cls_score_list,
        bbox_pred_list,
        score_factor_list,
        mlvl_anchors,
        img_meta,
        cfg,
        rescale=False,
        with_nms=True,
        **kwargs,
    ):
        """Proposals of one image (``get_bboxes`` calls it per image).

        Per level the ``nms_pre`` anchors of highest objectness are kept;
        :meth:`_bbox_post_process` decodes them, drops the small ones and
        runs one NMS that keeps the levels apart. The maps come detached
        from ``get_bboxes``: proposals carry no gradient.

        Args:
            cls_score_list (list[Tensor]): per level (A, H, W) logits (A*2
                with a softmax loss).
            bbox_pred_list (list[Tensor]): per level (A*4, H, W) deltas.
            score_factor_list: unused (None at every level).
            mlvl_anchors (list[Tensor]): per level (H*W*A, 4) anchors.
            img_meta (dict): with 'img_shape' (and 'scale_factor' for
                ``rescale``).
            cfg (dict, optional): ``nms_pre``, ``min_bbox_size``, ``nms``,
                ``max_per_img``, ``nms_across_levels``; ``test_cfg`` by
                default (deprecated key names are translated).
            rescale (bool): divide the boxes by the image's scale factor.
            with_nms (bool): False skips NMS and ``max_per_img``.

        Returns:
            Tensor: (n, 5) proposals ``x1, y1, x2, y2, score``, in
            descending score order after NMS.
        """
        if score_factor_list[0] is not None:
            raise ValueError('the RPN takes no score factors')
        cfg = _upgrade_proposal_cfg(self.test_cfg if cfg is None else cfg)
        nms_pre = cfg.get('nms_pre', -1)
        mlvl_scores, mlvl_deltas, mlvl_valid_anchors, level_ids = (
            [],
            [],
            [],
            [],
        )
        for lvl, (cls_score, bbox_pred, anchors) in enumerate(
            zip(cls_score_list, bbox_pred_list, mlvl_anchors)
        ):
            logits = cls_score.permute(1, 2, 0).reshape(
                -1, self.cls_out_channels
            )
            scores = self._class_scores(logits)[:, 0]
            deltas = bbox_pred.permute(1, 2, 0).reshape(-1, 4)
            if 0 < nms_pre < scores.size(0):
                scores, inds = scores.topk(nms_pre)
                deltas, anchors = deltas[inds], anchors[inds]
            mlvl_scores.append(scores)
            mlvl_deltas.append(deltas)
            mlvl_valid_anchors.append(anchors)
            level_ids.append(torch.full_like(scores, lvl, dtype=torch.long))
        return self._bbox_post_process(
            mlvl_scores,
            mlvl_deltas,
            mlvl_valid_anchors,
            level_ids,
            cfg,
            img_meta['img_shape'],
            scale_factor=img_meta.get('scale_factor'),
            rescale=rescale,
            with_nms=with_nms,
        )

    def _bbox_post_process(
        self,
        mlvl_scores,
        mlvl_bboxes,
        mlvl_valid_anchors,
        level_ids,
        cfg,
        img_shape,
        scale_factor=None,
        rescale=False,
        with_nms=True,
        **kwargs,
    ):
        """Decode the kept anchors' deltas (clipped to ``img_shape``), drop
        boxes with width or height <= ``min_bbox_size``, then one NMS with
        the levels kept apart (``batched_nms`` with the level as class, or
        all together with ``nms_across_levels``) and the first
        ``max_per_img``.

        Args:
            mlvl_scores (list[Tensor]): per level (k_l,) objectness.
            mlvl_bboxes (list[Tensor]): per level (k_l, 4) deltas.
            mlvl_valid_anchors (list[Tensor]): per level (k_l, 4) anchors.
            level_ids (list[Tensor]): per level (k_l,) level index.
            img_shape (tuple): the image's (H, W[, C]).

        Returns:
            Tensor: (n, 5) proposals.
        """
        scores = torch.cat(mlvl_scores)
        bboxes = self.bbox_coder.decode(
            torch.cat(mlvl_valid_anchors),
            torch.cat(mlvl_bboxes),
            max_shape=img_shape,
        )
        ids = torch.cat(level_ids)
        if cfg.get('nms_across_levels', False):
            ids = torch.zeros_like(ids)
        min_size = cfg.get('min_bbox_size', -1)
        if min_size >= 0:
            w = bboxes[:, 2] - bboxes[:, 0]
            h = bboxes[:, 3] - bboxes[:, 1]
            keep = (w > min_size) & (h > min_size)
            if not keep.all():
                scores, bboxes, ids = scores[keep], bboxes[keep], ids[keep]
        if bboxes.numel() == 0:
            return bboxes.new_zeros(0, 5)
        if with_nms:
            dets, _ = batched_nms(bboxes, scores, ids, cfg.nms)
            dets = dets[: cfg.max_per_img]
        else:
            dets = torch.cat([bboxes, scores[:, None]], dim=1)
        if rescale:
            scale = dets.new_tensor(scale_factor)
            dets = torch.cat([dets[:, :4] / scale, dets[:, 4:]], dim=1)
        return dets

    def simple_test_rpn(self, x, img_metas):
        """Proposals of a batch: per image (n, 5), in input-image pixels."""
        return self.get_bboxes(*self(x), img_metas=img_metas)

    def aug_test_rpn(self, feats, img_metas):
        """Proposals of each image merged over its augmentations.

        Args:
            feats (list[tuple[Tensor]]): per augmentation the levels.
            img_metas (list[list[dict]]): per augmentation, per image.

        Returns:
            list[Tensor]: per image (n, 5) proposals in original-image
            pixels (one NMS over the mapped-back proposals of all
            augmentations).
        """
        per_aug = [
            self.simple_test_rpn(x, metas)
            for x, metas in zip(feats, img_metas)
        ]
        cfg = _upgrade_proposal_cfg(self.test_cfg)
        return [
            merge_aug_proposals(
                [props[i] for props in per_aug],
                [metas[i] for metas in img_metas],
                cfg,
            )
            for i in range(len(img_metas[0]))
        ]
