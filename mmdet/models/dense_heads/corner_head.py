"""CornerNet head (Law & Deng, 2018): per class a top-left and a
bottom-right corner heatmap after corner pooling, corner offsets, and an
embedding that pairs the corners of one object."""

from math import ceil, log

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, bias_init_with_prob
from mmcv.runner import BaseModule

from mmdet.core import batched_nms, multi_apply
from mmdet.utils.arg_errors import check_arg
from ..builder import HEADS, build_loss
from ..utils.corner_pool import CornerPool
from ..utils.gaussian_target import (
    gather_feat,
    gaussian_radius,
    gen_gaussian_target,
    get_local_maximum,
    get_topk_from_heatmap,
    transpose_and_gather_feat,
)
from .base_dense_head import BaseDenseHead


class BiCornerPool(BaseModule):
    """Two 3x3 conv branches pooled in two directions and summed, a 3x3
    conv, plus a 1x1 shortcut, ReLU, then a 3x3 conv.

    Args:
        in_channels (int): input channels.
        directions (list[str]): the two pooling modes, e.g. top, left.
        feat_channels (int): channels of the pooled branches.
        out_channels (int): output channels.
        norm_cfg (dict): normalization of every conv.
    """

    def __init__(
        self,
        in_channels,
        directions,
        feat_channels=128,
        out_channels=128,
        norm_cfg=dict(type='BN', requires_grad=True),
        init_cfg=None,
    ):
        super().__init__(init_cfg)
        self.direction1_conv = ConvModule(
            in_channels, feat_channels, 3, padding=1, norm_cfg=norm_cfg
        )
        self.direction2_conv = ConvModule(
            in_channels, feat_channels, 3, padding=1, norm_cfg=norm_cfg
        )
        self.aftpool_conv = ConvModule(
            feat_channels,
            out_channels,
            3,
            padding=1,
            norm_cfg=norm_cfg,
            act_cfg=None,
        )
        self.conv1 = ConvModule(
            in_channels, out_channels, 1, norm_cfg=norm_cfg, act_cfg=None
        )
        self.conv2 = ConvModule(
            in_channels, out_channels, 3, padding=1, norm_cfg=norm_cfg
        )
        self.direction1_pool = CornerPool(directions[0])
        self.direction2_pool = CornerPool(directions[1])
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        pooled = self.direction1_pool(
            self.direction1_conv(x)
        ) + self.direction2_pool(self.direction2_conv(x))
        return self.conv2(self.relu(self.aftpool_conv(pooled) + self.conv1(x)))


def _corner_mask(heatmap):
    """(B, 1, H, W) 1 where any class has a corner (heatmap == 1)."""
    return heatmap.eq(1).sum(1).gt(0).unsqueeze(1).type_as(heatmap)


@HEADS.register_module()
class CornerHead(BaseDenseHead):
    """CornerNet head; one set of branches per hourglass output level
    (all supervised; the last one used at test time).

    Args:
        num_classes (int): object classes.
        in_channels (int): channels of each input level.
        num_feat_levels (int): input levels (hourglass stacks).
        corner_emb_channels (int): embedding channels (0: none).
        train_cfg (dict, optional): unused.
        test_cfg (dict): ``corner_topk``, ``local_maximum_kernel``,
            ``distance_threshold``, ``score_thr``, ``max_per_img``, ``nms``.
        loss_heatmap, loss_embedding, loss_offset (dict | None): losses.
        init_cfg: must be None (the head initializes itself).
    """

    def __init__(
        self,
        num_classes,
        in_channels,
        num_feat_levels=2,
        corner_emb_channels=1,
        train_cfg=None,
        test_cfg=None,
        loss_heatmap=dict(
            type='GaussianFocalLoss', alpha=2.0, gamma=4.0, loss_weight=1
        ),
        loss_embedding=dict(
            type='AssociativeEmbeddingLoss', pull_weight=0.25, push_weight=0.25
        ),
        loss_offset=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1),
        init_cfg=None,
    ):
        check_arg(
            init_cfg is None,
            type(self).__name__,
            'init_cfg must be None: the head initializes its own layers',
        )
        super().__init__(init_cfg)
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.corner_emb_channels = corner_emb_channels
        self.with_corner_emb = corner_emb_channels > 0
        self.corner_offset_channels = 2
        self.num_feat_levels = num_feat_levels
        self.loss_heatmap = _maybe_loss(loss_heatmap)
        self.loss_embedding = _maybe_loss(loss_embedding)
        self.loss_offset = _maybe_loss(loss_offset)
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        self.fp16_enabled = False
        self._init_layers()

    def _make_layers(self, out_channels, in_channels=256, feat_channels=256):
        """3x3 ConvModule (ReLU) then a plain 1x1 conv."""
        return nn.Sequential(
            ConvModule(in_channels, feat_channels, 3, padding=1),
            ConvModule(
                feat_channels, out_channels, 1, norm_cfg=None, act_cfg=None
            ),
        )

    def _branches(self, out_channels):
        return nn.ModuleList(
            self._make_layers(out_channels, in_channels=self.in_channels)
            for _ in range(self.num_feat_levels)
        )

    def _init_corner_kpt_layers(self):
        c = self.in_channels
        levels = range(self.num_feat_levels)
        self.tl_pool = nn.ModuleList(
            BiCornerPool(c, ['top', 'left'], out_channels=c) for _ in levels
        )
        self.br_pool = nn.ModuleList(
            BiCornerPool(c, ['bottom', 'right'], out_channels=c)
            for _ in levels
        )
        self.tl_heat = self._branches(self.num_classes)
        self.br_heat = self._branches(self.num_classes)
        self.tl_off = self._branches(self.corner_offset_channels)
        self.br_off = self._branches(self.corner_offset_channels)

    def _init_corner_emb_layers(self):
        self.tl_emb = self._branches(self.corner_emb_channels)
        self.br_emb = self._branches(self.corner_emb_channels)

    def _init_layers(self):
        self._init_corner_kpt_layers()
        if self.with_corner_emb:
            self._init_corner_emb_layers()

    def init_weights(self):
        """Default conv init for the predictors, heatmap bias for a prior
        of 0.1."""
        super().init_weights()
        bias = bias_init_with_prob(0.1)
        names = ['tl_heat', 'br_heat', 'tl_off', 'br_off']
        if self.with_corner_emb:
            names += ['tl_emb', 'br_emb']
        for name in names:
            for branch in getattr(self, name):
                branch[-1].conv.reset_parameters()
                if name.endswith('heat'):
                    branch[-1].conv.bias.data.fill_(bias)

    def forward(self, feats):
        """Per level: tl/br heatmap logits (B, num_classes, H, W), tl/br
        embeddings (B, D, H, W) or None, tl/br offsets (B, 2, H, W)."""
        return multi_apply(
            self.forward_single, feats, list(range(self.num_feat_levels))
        )

    def forward_single(self, x, lvl_ind, return_pool=False):
        """One level's six maps (and the two pooled features if
        ``return_pool``)."""
        tl_pool = self.tl_pool[lvl_ind](x)
        br_pool = self.br_pool[lvl_ind](x)
        tl_emb = br_emb = None
        if self.with_corner_emb:
            tl_emb = self.tl_emb[lvl_ind](tl_pool)
            br_emb = self.br_emb[lvl_ind](br_pool)
        outs = [
            self.tl_heat[lvl_ind](tl_pool),
            self.br_heat[lvl_ind](br_pool),
            tl_emb,
            br_emb,
            self.tl_off[lvl_ind](tl_pool),
            self.br_off[lvl_ind](br_pool),
        ]
        if return_pool:
            outs += [tl_pool, br_pool]
        return outs

    # ---------------------------------------------------------- targets
    def get_targets(
        self,
        gt_bboxes,
        gt_labels,
        feat_shape,
        img_shape,
        with_corner_emb=False,
        with_guiding_shift=False,
        with_centripetal_shift=False,
    ):
        """Corner heatmaps (B, C, H, W) and offsets (B, 2, H, W); with
        ``with_corner_emb`` the per-image corner pairs, with the shift
        flags the guiding (corner -> center) and log centripetal shifts.

        Boxes are scaled to the feature map; a corner is the integer cell
        of its scaled coordinate (clamped to the map).
        """
        bs, _, height, width = feat_shape
        img_h, img_w = img_shape[:2]
        w_ratio, h_ratio = float(width / img_w), float(height / img_h)
        ref = gt_bboxes[-1]

        def zeros(channels):
            return ref.new_zeros((bs, channels, height, width))

        t = dict(
            topleft_heatmap=zeros(self.num_classes),
            topleft_offset=zeros(2),
            bottomright_heatmap=zeros(self.num_classes),
            bottomright_offset=zeros(2),
        )
        if with_guiding_shift:
            t.update(topleft_guiding_shift=zeros(2))
            t.update(bottomright_guiding_shift=zeros(2))
        if with_centripetal_shift:
            t.update(topleft_centripetal_shift=zeros(2))
            t.update(bottomright_centripetal_shift=zeros(2))
        match = []
        for b in range(bs):
            pairs = []
            for box, label in zip(gt_bboxes[b], gt_labels[b]):
                left, top, right, bottom = box
                sl, sr = left * w_ratio, right * w_ratio
                st, sb = top * h_ratio, bottom * h_ratio
                cx = (left + right) / 2.0 * w_ratio
                cy = (top + bottom) / 2.0 * h_ratio
                li, ri = int(min(sl, width - 1)), int(min(sr, width - 1))
                ti, bi = int(min(st, height - 1)), int(min(sb, height - 1))
                radius = gaussian_radius(
                    (ceil(sb - st), ceil(sr - sl)), min_overlap=0.3
                )
                radius = max(0, int(radius))
                gen_gaussian_target(
                    t['topleft_heatmap'][b, int(label)], [li, ti], radius
                )
                gen_gaussian_target(
                    t['bottomright_heatmap'][b, int(label)], [ri, bi], radius
                )
                t['topleft_offset'][b, :, ti, li] = _pair(sl - li, st - ti)
                t['bottomright_offset'][b, :, bi, ri] = _pair(sr - ri, sb - bi)
                pairs.append([[ti, li], [bi, ri]])
                if with_guiding_shift:
                    tl_shift = _pair(cx - li, cy - ti)
                    br_shift = _pair(ri - cx, bi - cy)
                    t['topleft_guiding_shift'][b, :, ti, li] = tl_shift
                    t['bottomright_guiding_shift'][b, :, bi, ri] = br_shift
                if with_centripetal_shift:
                    tl_ct = _pair(log(cx - sl), log(cy - st))
                    br_ct = _pair(log(sr - cx), log(sb - cy))
                    t['topleft_centripetal_shift'][b, :, ti, li] = tl_ct
                    t['bottomright_centripetal_shift'][b, :, bi, ri] = br_ct
            match.append(pairs)
        if with_corner_emb:
            t['corner_embedding'] = match
        return t

    # ------------------------------------------------------------- loss
    def loss(
        self,
        tl_heats,
        br_heats,
        tl_embs,
        br_embs,
        tl_offs,
        br_offs,
        gt_bboxes,
        gt_labels,
        img_metas,
        gt_bboxes_ignore=None,
    ):
        """Per-level lists ``det_loss``, ``off_loss`` (and ``pull_loss``,
        ``push_loss`` with embeddings); every level has the same targets,
        computed at the last level's size."""
        targets = self.get_targets(
            gt_bboxes,
            gt_labels,
            tl_heats[-1].shape,
            img_metas[0]['pad_shape'],
            with_corner_emb=self.with_corner_emb,
        )
        det, pull, push, off = multi_apply(
            self.loss_single,
            tl_heats,
            br_heats,
            tl_embs,
            br_embs,
            tl_offs,
            br_offs,
            [targets] * self.num_feat_levels,
        )
        losses = dict(det_loss=det, off_loss=off)
        if self.with_corner_emb:
            losses.update(pull_loss=pull, push_loss=push)
        return losses

    def loss_single(
        self, tl_hmp, br_hmp, tl_emb, br_emb, tl_off, br_off, targets
    ):
        """One level: (det, pull, push, offset) losses; the corner losses
        are the means of their top-left and bottom-right parts."""
        gt_tl, gt_br = (
            targets['topleft_heatmap'],
            targets['bottomright_heatmap'],
        )
        det = 0.5 * sum(
            self.loss_heatmap(
                pred.sigmoid(), gt, avg_factor=max(1, gt.eq(1).sum())
            )
            for pred, gt in ((tl_hmp, gt_tl), (br_hmp, gt_br))
        )
        pull = push = None
        if self.with_corner_emb and self.loss_embedding is not None:
            pull, push = self.loss_embedding(
                tl_emb, br_emb, targets['corner_embedding']
            )
        off = self._masked_pair_loss(
            self.loss_offset,
            (tl_off, br_off),
            (targets['topleft_offset'], targets['bottomright_offset']),
            targets,
            min_avg=1,
        )
        return det, pull, push, off

    def _masked_pair_loss(self, loss_fn, preds, gts, targets, min_avg=None):
        """Mean of the tl and br ``loss_fn`` at the gt corner cells."""
        masks = (
            _corner_mask(targets['topleft_heatmap']),
            _corner_mask(targets['bottomright_heatmap']),
        )
        total = 0
        for pred, gt, mask in zip(preds, gts, masks):
            avg = mask.sum() if min_avg is None else max(min_avg, mask.sum())
            total = total + loss_fn(pred, gt, mask, avg_factor=avg)
        return total / 2.0

    # ------------------------------------------------------------- test
    def get_bboxes(
        self,
        tl_heats,
        br_heats,
        tl_embs,
        br_embs,
        tl_offs,
        br_offs,
        img_metas,
        rescale=False,
        with_nms=True,
    ):
        """Per image ``(dets (n, 5), labels (n,))`` from the last level."""
        return [
            self._get_bboxes_single(
                tl_heats[-1][i : i + 1],
                br_heats[-1][i : i + 1],
                tl_offs[-1][i : i + 1],
                br_offs[-1][i : i + 1],
                meta,
                tl_emb=tl_embs[-1][i : i + 1],
                br_emb=br_embs[-1][i : i + 1],
                rescale=rescale,
                with_nms=with_nms,
            )
            for i, meta in enumerate(img_metas)
        ]

    def _get_bboxes_single(
        self,
        tl_heat,
        br_heat,
        tl_off,
        br_off,
        img_meta,
        tl_emb=None,
        br_emb=None,
        tl_centripetal_shift=None,
        br_centripetal_shift=None,
        rescale=False,
        with_nms=True,
    ):
        """One image's corner pairs with score > -0.1 (invalid pairs score
        -1), optionally rescaled and NMS-ed."""
        if isinstance(img_meta, (list, tuple)):
            img_meta = img_meta[0]
        cfg = self.test_cfg
        bboxes, scores, clses = self.decode_heatmap(
            tl_heat=tl_heat.sigmoid(),
            br_heat=br_heat.sigmoid(),
            tl_off=tl_off,
            br_off=br_off,
            tl_emb=tl_emb,
            br_emb=br_emb,
            tl_centripetal_shift=tl_centripetal_shift,
            br_centripetal_shift=br_centripetal_shift,
            img_meta=img_meta,
            k=cfg['corner_topk'],
            kernel=cfg['local_maximum_kernel'],
            distance_threshold=cfg['distance_threshold'],
        )
        if rescale:
            bboxes = bboxes / bboxes.new_tensor(img_meta['scale_factor'])
        dets = torch.cat([bboxes.view(-1, 4), scores.view(-1, 1)], -1)
        keep = dets[:, -1] > -0.1
        dets, labels = dets[keep], clses.view(-1)[keep]
        if with_nms:
            dets, labels = self._bboxes_nms(dets, labels, cfg)
        return dets, labels

    def _bboxes_nms(self, bboxes, labels, cfg):
        """Class-wise NMS (``cfg['nms']``, or the old ``nms_cfg``) of
        (n, 5) detections, ``max_per_img`` kept."""
        if labels.numel() == 0:
            return bboxes, labels
        nms_cfg = cfg['nms'] if 'nms' in cfg else cfg['nms_cfg']
        dets, keep = batched_nms(
            bboxes[:, :4], bboxes[:, -1].contiguous(), labels, nms_cfg
        )
        max_num = cfg['max_per_img']
        if max_num > 0:
            dets, keep = dets[:max_num], keep[:max_num]
        return dets, labels[keep]

    def decode_heatmap(
        self,
        tl_heat,
        br_heat,
        tl_off,
        br_off,
        tl_emb=None,
        br_emb=None,
        tl_centripetal_shift=None,
        br_centripetal_shift=None,
        img_meta=None,
        k=100,
        kernel=3,
        distance_threshold=0.5,
        num_dets=1000,
    ):
        """Pair the k best top-left and k best bottom-right corners.

        A pair scores the mean of its corner scores, or -1 where the
        classes differ, the box is empty, or the corners do not belong
        together (embedding distance above ``distance_threshold``, or, with
        centripetal shifts, a shifted center outside the central region).

        Returns:
            tuple[Tensor]: the ``num_dets`` best pairs: boxes (B, n, 4) in
            input pixels (minus the crop border), scores (B, n, 1), classes
            (B, n, 1) float.
        """
        with_emb = tl_emb is not None and br_emb is not None
        with_ct = (
            tl_centripetal_shift is not None
            and br_centripetal_shift is not None
        )
        check_arg(
            with_emb + with_ct == 1,
            type(self).__name__,
            'decode_heatmap needs either embeddings or centripetal shifts',
        )
        batch, _, height, width = tl_heat.size()
        inp_h, inp_w = img_meta['pad_shape'][:2]
        tl_scores, tl_inds, tl_clses, tl_ys, tl_xs = get_topk_from_heatmap(
            get_local_maximum(tl_heat, kernel=kernel), k=k
        )
        br_scores, br_inds, br_clses, br_ys, br_xs = get_topk_from_heatmap(
            get_local_maximum(br_heat, kernel=kernel), k=k
        )
        # pairs: rows are top-left corners, columns bottom-right ones
        tl_o = transpose_and_gather_feat(tl_off, tl_inds).view(batch, k, 1, 2)
        br_o = transpose_and_gather_feat(br_off, br_inds).view(batch, 1, k, 2)
        tl_xs = tl_xs.view(batch, k, 1) + tl_o[..., 0]
        tl_ys = tl_ys.view(batch, k, 1).float() + tl_o[..., 1]
        br_xs = br_xs.view(batch, 1, k) + br_o[..., 0]
        br_ys = br_ys.view(batch, 1, k).float() + br_o[..., 1]
        sx, sy = inp_w / width, inp_h / height
        x_off = y_off = 0
        if 'border' in img_meta:
            y_off, x_off = img_meta['border'][0], img_meta['border'][2]
        corners = [tl_xs, tl_ys, br_xs, br_ys]
        if with_ct:
            tl_s = transpose_and_gather_feat(tl_centripetal_shift, tl_inds)
            br_s = transpose_and_gather_feat(br_centripetal_shift, br_inds)
            tl_s = tl_s.view(batch, k, 1, 2).exp()
            br_s = br_s.view(batch, 1, k, 2).exp()
            ct = [
                tl_xs + tl_s[..., 0],
                tl_ys + tl_s[..., 1],
                br_xs - br_s[..., 0],
                br_ys - br_s[..., 1],
            ]
        scale = (sx, sy, sx, sy)
        offs = (x_off, y_off, x_off, y_off)
        corners = [
            ((c * s) - o).clamp(min=0)
            for c, s, o in zip(torch.broadcast_tensors(*corners), scale, offs)
        ]
        bboxes = torch.stack(corners, dim=3)
        tl_xs, tl_ys, br_xs, br_ys = corners
        scores = (
            tl_scores.view(batch, k, 1) + br_scores.view(batch, 1, k)
        ) / 2
        tl_clses = tl_clses.view(batch, k, 1).expand(batch, k, k)
        invalid = (tl_clses != br_clses.view(batch, 1, k)) | (
            (br_xs <= tl_xs) | (br_ys <= tl_ys)
        )
        if with_emb:
            tl_e = transpose_and_gather_feat(tl_emb, tl_inds).view(batch, k, 1)
            br_e = transpose_and_gather_feat(br_emb, br_inds).view(batch, 1, k)
            invalid |= (tl_e - br_e).abs() > distance_threshold
        else:
            ct = [
                ((c * s) - o) * ((c * s) - o).gt(0.0)
                for c, s, o in zip(torch.broadcast_tensors(*ct), scale, offs)
            ]
            invalid |= self._outside_central_region(bboxes, ct)
            invalid |= self._central_area_ratio(bboxes, ct) > (
                distance_threshold
            )
        scores = torch.where(invalid, -torch.ones_like(scores), scores)
        scores, inds = torch.topk(scores.view(batch, -1), num_dets)
        bboxes = gather_feat(bboxes.view(batch, -1, 4), inds)
        clses = gather_feat(tl_clses.reshape(batch, -1, 1), inds).float()
        return bboxes, scores.unsqueeze(2), clses

    @staticmethod
    def _central_region(bboxes):
        """(..., 4) central region of each box: ``mu`` times its size
        around its center, mu = 1/2.4 (1/2.1 above 3500 px^2)."""
        w = bboxes[..., 2] - bboxes[..., 0]
        h = bboxes[..., 3] - bboxes[..., 1]
        mu = torch.full_like(w, 1 / 2.4)
        mu[(w * h).abs() > 3500] = 1 / 2.1
        cx = (bboxes[..., 0] + bboxes[..., 2]) / 2
        cy = (bboxes[..., 1] + bboxes[..., 3]) / 2
        return torch.stack(
            [
                cx - mu * w / 2,
                cy - mu * h / 2,
                cx + mu * w / 2,
                cy + mu * h / 2,
            ],
            -1,
        )

    def _outside_central_region(self, bboxes, ct):
        """Whether any shifted corner lies on or outside the box's central
        region."""
        region = self._central_region(bboxes)
        outside = torch.zeros_like(ct[0], dtype=torch.bool)
        for i, c in enumerate(ct):
            lo, hi = region[..., i % 2], region[..., i % 2 + 2]
            outside |= (c <= lo) | (c >= hi)
        return outside

    def _central_area_ratio(self, bboxes, ct):
        """Area of the shifted-center box over the central region's."""
        region = self._central_region(bboxes)
        ct_area = ((ct[2] - ct[0]) * (ct[3] - ct[1])).abs()
        region_area = (
            (region[..., 2] - region[..., 0])
            * (region[..., 3] - region[..., 1])
        ).abs()
        return ct_area / region_area


def _maybe_loss(cfg):
    return None if cfg is None else build_loss(cfg)


def _pair(a, b):
    return torch.stack([torch.as_tensor(a), torch.as_tensor(b)]).float()
