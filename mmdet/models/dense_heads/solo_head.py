"""SOLO heads (``SOLOHead``, ``DecoupledSOLOHead``, its light variant):
each FPN level is split into an S x S grid; a cell predicts the class of the
instance whose centre falls in it and that instance's mask.

Shapes: ``num_grids[i]`` = S_i; mask predictions at twice the resized level
resolution; results at the original image size (see ``BaseMaskHead``).
"""

import mmcv
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule

from mmdet.core import mask_matrix_nms, multi_apply
from mmdet.core.mask import upsample_masks
from mmdet.core.utils import center_of_mass, generate_coordinate
from mmdet.utils.arg_errors import InvalidArgumentError
from ..builder import HEADS, build_loss
from .base_mask_head import BaseMaskHead


def _normal_init_cfg(*prior_names):
    """Normal(0.01) for all convs; the named predictors get a focal prior."""
    cfg = [dict(type='Normal', layer='Conv2d', std=0.01)]
    for name in prior_names:
        cfg.append(
            dict(
                type='Normal',
                std=0.01,
                bias_prob=0.01,
                override=dict(name=name),
            )
        )
    return cfg


def _trunc_cell(value, extent, num_grid):
    """Grid index (python int) of a pixel coordinate, truncated."""
    return int(
        torch.div(value / extent, 1.0 / num_grid, rounding_mode='trunc')
    )


def grid_cells_of_gts(
    gt_bboxes, gt_labels, gt_masks, bounds, num_grid, upsampled_size, pos_scale
):
    """Centre-region grid cells of the gts whose sqrt(area) lies in
    ``bounds``; yields ``(label, top, down, left, right, mask)`` with
    inclusive cell ranges and the (H, W) gt mask, gts in input order."""
    lower, upper = bounds
    areas = torch.sqrt(
        (gt_bboxes[:, 2] - gt_bboxes[:, 0])
        * (gt_bboxes[:, 3] - gt_bboxes[:, 1])
    )
    inds = ((areas >= lower) & (areas <= upper)).nonzero().flatten()
    if len(inds) == 0:
        return
    boxes = gt_bboxes[inds]
    half_w = 0.5 * (boxes[:, 2] - boxes[:, 0]) * pos_scale
    half_h = 0.5 * (boxes[:, 3] - boxes[:, 1]) * pos_scale
    masks = gt_masks[inds, ...]
    valid = masks.sum(dim=-1).sum(dim=-1) > 0
    up_h, up_w = upsampled_size
    for k, ind in enumerate(inds):
        if not valid[k]:
            continue
        c_h, c_w = center_of_mass(masks[k])
        coord_h = _trunc_cell(c_h, up_h, num_grid)
        coord_w = _trunc_cell(c_w, up_w, num_grid)
        top = max(0, _trunc_cell(c_h - half_h[k], up_h, num_grid))
        down = min(num_grid - 1, _trunc_cell(c_h + half_h[k], up_h, num_grid))
        left = max(0, _trunc_cell(c_w - half_w[k], up_w, num_grid))
        right = min(num_grid - 1, _trunc_cell(c_w + half_w[k], up_w, num_grid))
        # at most the 3 x 3 cells around the centre cell
        top, down = max(top, coord_h - 1), min(down, coord_h + 1)
        left, right = max(left, coord_w - 1), min(right, coord_w + 1)
        yield gt_labels[ind], top, down, left, right, masks[k]


def rescale_mask(mask, scale):
    """(H, W) bool/uint8 tensor -> uint8 tensor rescaled bilinearly (cv2)."""
    arr = np.uint8(mask.cpu().numpy())
    return torch.from_numpy(mmcv.imrescale(arr, scale=scale)).to(mask.device)


def point_nms(cls_scores):
    """Keep only the 2 x 2 local maxima of (N, C, S, S) probabilities."""
    local_max = F.max_pool2d(cls_scores, 2, stride=1, padding=1)
    return cls_scores * (local_max[:, :, :-1, :-1] == cls_scores)


def empty_results(cls_scores, ori_shape):
    return dict(
        scores=cls_scores.new_ones(0),
        labels=cls_scores.new_zeros(0, dtype=torch.long),
        masks=cls_scores.new_zeros(0, *ori_shape[:2], dtype=torch.bool),
    )


def masks_to_results(
    mask_probs,
    cls_scores,
    labels,
    strides,
    img_meta,
    cfg,
    upsampled_size,
    upsample=True,
):
    """Shared test tail: candidate mask probabilities (n, h, w), their scores,
    labels and level strides (n,) -> result dict (masks at ``ori_shape``).

    A candidate needs more mask pixels than its stride; its score is
    multiplied by the mean probability inside its mask; matrix NMS follows.
    With ``upsample=False`` the result stops before the resizing: the kept
    candidates' ``mask_probs`` (k, h, w), what :func:`upsample_masks` turns
    into the masks (the ONNX graph's output; it traces as it is).
    """
    masks = mask_probs > cfg.mask_thr
    areas = masks.sum((1, 2)).float()
    keep = areas > strides
    if upsample and not keep.any():
        return empty_results(cls_scores, img_meta['ori_shape'])
    masks, mask_probs, areas = masks[keep], mask_probs[keep], areas[keep]
    cls_scores, labels = cls_scores[keep], labels[keep]
    cls_scores = cls_scores * (mask_probs * masks).sum((1, 2)) / areas
    scores, labels, _, keep_inds = mask_matrix_nms(
        masks,
        labels,
        cls_scores,
        mask_area=areas,
        nms_pre=cfg.nms_pre,
        max_num=cfg.max_per_img,
        kernel=cfg.kernel,
        sigma=cfg.sigma,
        filter_thr=cfg.filter_thr,
    )
    if not upsample:
        return dict(
            scores=scores, labels=labels, mask_probs=mask_probs[keep_inds]
        )
    masks = upsample_masks(
        mask_probs[keep_inds],
        upsampled_size,
        img_meta['img_shape'],
        img_meta['ori_shape'],
        cfg.mask_thr,
    )
    return dict(scores=scores, labels=labels, masks=masks)


@HEADS.register_module()
class SOLOHead(BaseMaskHead):
    """SOLO: per level, a mask conv tower on features + (x, y) coordinates
    predicting S^2 masks, and a class tower on the S x S resized features."""

    # test-time masks are at twice the first resized level (stride 8):
    # this is their stride in the input (SOLOv2: its mask feature map's)
    mask_stride = 4

    def __init__(
        self,
        num_classes,
        in_channels,
        feat_channels=256,
        stacked_convs=4,
        strides=(4, 8, 16, 32, 64),
        scale_ranges=((8, 32), (16, 64), (32, 128), (64, 256), (128, 512)),
        pos_scale=0.2,
        num_grids=[40, 36, 24, 16, 12],
        cls_down_index=0,
        loss_mask=None,
        loss_cls=None,
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
        train_cfg=None,
        test_cfg=None,
        init_cfg=_normal_init_cfg('conv_mask_list', 'conv_cls'),
    ):
        super().__init__(init_cfg)
        self.num_classes = num_classes
        self.cls_out_channels = num_classes
        self.in_channels = in_channels
        self.feat_channels = feat_channels
        self.stacked_convs = stacked_convs
        self.strides = strides
        self.num_grids = num_grids
        self.num_levels = len(strides)
        if not self.num_levels == len(scale_ranges) == len(num_grids):
            raise InvalidArgumentError(
                f'{type(self).__name__}: strides, scale_ranges and num_grids '
                'must have the same length'
            )
        self.scale_ranges = scale_ranges
        self.pos_scale = pos_scale
        self.cls_down_index = cls_down_index
        self.loss_cls = build_loss(loss_cls)
        self.loss_mask = build_loss(loss_mask)
        self.norm_cfg = norm_cfg
        self.init_cfg = init_cfg
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        self._init_layers()

    def _tower(self, in_channels, conv_cfg=None):
        return nn.ModuleList(
            ConvModule(
                in_channels if i == 0 else self.feat_channels,
                self.feat_channels,
                3,
                stride=1,
                padding=1,
                conv_cfg=conv_cfg,
                norm_cfg=self.norm_cfg,
            )
            for i in range(self.stacked_convs)
        )

    def _init_layers(self):
        self.mask_convs = self._tower(self.in_channels + 2)
        self.cls_convs = self._tower(self.in_channels)
        self.conv_mask_list = nn.ModuleList(
            nn.Conv2d(self.feat_channels, g**2, 1) for g in self.num_grids
        )
        self.conv_cls = nn.Conv2d(
            self.feat_channels, self.cls_out_channels, 3, padding=1
        )

    @staticmethod
    def resize_feats(feats):
        """First level down to the second's size, last up to the one before."""
        out = list(feats)
        out[0] = F.interpolate(
            feats[0],
            size=feats[1].shape[-2:],
            mode='bilinear',
            align_corners=False,
        )
        out[-1] = F.interpolate(
            feats[-1],
            size=feats[-2].shape[-2:],
            mode='bilinear',
            align_corners=False,
        )
        return out

    def _cls_branch(self, x, level):
        """(N, C, S, S) class logits (probabilities after point NMS in
        eval mode)."""
        for j, conv in enumerate(self.cls_convs):
            if j == self.cls_down_index:
                x = F.interpolate(
                    x, size=self.num_grids[level], mode='bilinear'
                )
            x = conv(x)
        cls_pred = self.conv_cls(x)
        if not self.training:
            cls_pred = point_nms(cls_pred.sigmoid())
        return cls_pred

    def _mask_tower(self, convs, x):
        for conv in convs:
            x = conv(x)
        return F.interpolate(x, scale_factor=2, mode='bilinear')

    @staticmethod
    def _test_mask(mask_pred, feats):
        """Eval mode: probabilities at twice the first level's size."""
        size = tuple(2 * s for s in feats[0].shape[-2:])
        return F.interpolate(mask_pred.sigmoid(), size=size, mode='bilinear')

    def forward(self, feats):
        """FPN features -> (mask preds (N, S^2, 2h, 2w) per level, class
        preds (N, C, S, S) per level)."""
        self._check_levels(feats)
        feats = self.resize_feats(feats)
        mask_preds, cls_preds = [], []
        for i, x in enumerate(feats):
            coord = generate_coordinate(x.size(), x.device)
            mask_feat = self._mask_tower(
                self.mask_convs, torch.cat([x, coord], 1)
            )
            mask_pred = self.conv_mask_list[i](mask_feat)
            if not self.training:
                mask_pred = self._test_mask(mask_pred, feats)
            mask_preds.append(mask_pred)
            cls_preds.append(self._cls_branch(x, i))
        return mask_preds, cls_preds

    def _check_levels(self, feats):
        if len(feats) != self.num_levels:
            raise InvalidArgumentError(
                f'{type(self).__name__}: got {len(feats)} feature levels, '
                f'expected {self.num_levels}'
            )

    def _get_targets_single(
        self, gt_bboxes, gt_labels, gt_masks, featmap_sizes=None
    ):
        """Per level: positive mask targets (P, h, w) uint8 in cell order,
        labels (S, S) (``num_classes`` = background), positive flags (S^2,)."""
        device = gt_labels.device
        upsampled = (featmap_sizes[0][0] * 4, featmap_sizes[0][1] * 4)
        targets, labels_all, pos_all = [], [], []
        for bounds, stride, size, grid in zip(
            self.scale_ranges, self.strides, featmap_sizes, self.num_grids
        ):
            target = torch.zeros(
                [grid**2, size[0], size[1]], dtype=torch.uint8, device=device
            )
            labels = torch.full(
                [grid, grid], self.num_classes, dtype=torch.long, device=device
            )
            pos = torch.zeros([grid**2], dtype=torch.bool, device=device)
            cells = grid_cells_of_gts(
                gt_bboxes,
                gt_labels,
                gt_masks,
                bounds,
                grid,
                upsampled,
                self.pos_scale,
            )
            for label, top, down, left, right, mask in cells:
                labels[top : down + 1, left : right + 1] = label
                small = rescale_mask(mask, 2.0 / stride)
                for i in range(top, down + 1):
                    for j in range(left, right + 1):
                        target[
                            i * grid + j, : small.shape[0], : small.shape[1]
                        ] = small
                        pos[i * grid + j] = True
            targets.append(target[pos])
            labels_all.append(labels)
            pos_all.append(pos)
        return targets, labels_all, pos_all

    def _cls_loss(self, mlvl_cls_preds, mlvl_labels, num_pos):
        """Focal loss over every cell of every level and image."""
        preds = torch.cat(
            [
                p.permute(0, 2, 3, 1).reshape(-1, self.cls_out_channels)
                for p in mlvl_cls_preds
            ]
        )
        labels = torch.cat(
            [torch.cat([lab.flatten() for lab in lvl]) for lvl in mlvl_labels]
        )
        return self.loss_cls(preds, labels, avg_factor=num_pos + 1)

    @staticmethod
    def _mean_mask_loss(per_level, num_pos):
        per_level = torch.cat(per_level)
        return per_level.sum() / num_pos if num_pos > 0 else per_level.mean()

    def loss(
        self,
        mlvl_mask_preds,
        mlvl_cls_preds,
        gt_labels,
        gt_masks,
        img_metas,
        gt_bboxes=None,
        **kwargs,
    ):
        """Dice mask loss over positive cells (averaged by their count) and
        focal class loss."""
        sizes = [p.size()[-2:] for p in mlvl_mask_preds]
        targets, labels, pos = multi_apply(
            self._get_targets_single,
            gt_bboxes,
            gt_labels,
            gt_masks,
            featmap_sizes=sizes,
        )
        num_pos = sum(p.sum() for img in pos for p in img)
        losses = []
        for lvl, preds in enumerate(mlvl_mask_preds):
            pred = torch.cat(
                [preds[i, pos[i][lvl]] for i in range(len(gt_labels))]
            )
            if pred.size(0) == 0:
                losses.append(pred.sum().unsqueeze(0))
                continue
            target = torch.cat([t[lvl] for t in targets])
            losses.append(
                self.loss_mask(pred, target, reduction_override='none')
            )
        return dict(
            loss_mask=self._mean_mask_loss(losses, num_pos),
            loss_cls=self._cls_loss(mlvl_cls_preds, zip(*labels), num_pos),
        )

    def _flat_levels(self, mlvl, img_id, channels_last=True):
        """Concatenate one image's per-level maps: (sum S^2, C) or masks."""
        if channels_last:
            # flatten, not reshape(-1, C): ONNX shape inference then knows
            # C (SOLOv2's kernels become conv weights in the graph)
            return torch.cat(
                [m[img_id].permute(1, 2, 0).flatten(0, 1) for m in mlvl]
            )
        return torch.cat([m[img_id] for m in mlvl])

    def _candidate_strides(self, flat_inds):
        """Stride (float) of the level of each flat cell index."""
        per_cell = torch.repeat_interleave(
            torch.tensor(self.strides, dtype=torch.float),
            torch.tensor([g**2 for g in self.num_grids]),
        ).to(flat_inds.device)
        return per_cell[flat_inds]

    def get_results(
        self,
        mlvl_mask_preds,
        mlvl_cls_scores,
        img_metas,
        upsample=True,
        **kwargs,
    ):
        """Eval-mode forward outputs -> result dict per image
        (``upsample``: see :func:`masks_to_results`)."""
        results = []
        for img_id, meta in enumerate(img_metas):
            scores = self._flat_levels(mlvl_cls_scores, img_id)
            masks = self._flat_levels(mlvl_mask_preds, img_id, False)
            results.append(
                self._get_results_single(
                    scores, masks, meta, upsample=upsample
                )
            )
        return results

    def _get_results_single(
        self, cls_scores, mask_preds, img_meta, cfg=None, upsample=True
    ):
        """(sum S^2, C) scores and (sum S^2, h, w) mask probabilities."""
        cfg = self.test_cfg if cfg is None else cfg
        score_mask = cls_scores > cfg.score_thr
        scores = cls_scores[score_mask]
        inds = score_mask.nonzero()
        size = mask_preds.size()[-2:]
        return masks_to_results(
            mask_preds[inds[:, 0]],
            scores,
            inds[:, 1],
            self._candidate_strides(inds[:, 0]),
            img_meta,
            cfg,
            (size[0] * self.mask_stride, size[1] * self.mask_stride),
            upsample,
        )


@HEADS.register_module()
class DecoupledSOLOHead(SOLOHead):
    """Decoupled SOLO: mask of cell (i, j) = sigmoid(y_i) * sigmoid(x_j),
    with S x-masks from features + x coordinate and S y-masks from
    features + y coordinate."""

    def __init__(
        self,
        *args,
        init_cfg=_normal_init_cfg(
            'conv_mask_list_x', 'conv_mask_list_y', 'conv_cls'
        ),
        **kwargs,
    ):
        super().__init__(*args, init_cfg=init_cfg, **kwargs)

    def _xy_predictors(self):
        self.conv_mask_list_x = nn.ModuleList(
            nn.Conv2d(self.feat_channels, g, 3, padding=1)
            for g in self.num_grids
        )
        self.conv_mask_list_y = nn.ModuleList(
            nn.Conv2d(self.feat_channels, g, 3, padding=1)
            for g in self.num_grids
        )
        self.conv_cls = nn.Conv2d(
            self.feat_channels, self.cls_out_channels, 3, padding=1
        )

    def _init_layers(self):
        self.mask_convs_x = self._tower(self.in_channels + 1)
        self.mask_convs_y = self._tower(self.in_channels + 1)
        self.cls_convs = self._tower(self.in_channels)
        self._xy_predictors()

    def _xy_mask_feats(self, x, coord):
        fx = self._mask_tower(
            self.mask_convs_x, torch.cat([x, coord[:, 0:1]], 1)
        )
        fy = self._mask_tower(
            self.mask_convs_y, torch.cat([x, coord[:, 1:2]], 1)
        )
        return fx, fy

    def forward(self, feats):
        """-> (x-masks (N, S, 2h, 2w), y-masks (N, S, 2h, 2w), class preds
        (N, C, S, S)), each a list over levels."""
        self._check_levels(feats)
        feats = self.resize_feats(feats)
        preds_x, preds_y, cls_preds = [], [], []
        for i, x in enumerate(feats):
            coord = generate_coordinate(x.size(), x.device)
            fx, fy = self._xy_mask_feats(x, coord)
            px, py = self.conv_mask_list_x[i](fx), self.conv_mask_list_y[i](fy)
            if not self.training:
                px, py = self._test_mask(px, feats), self._test_mask(py, feats)
            preds_x.append(px)
            preds_y.append(py)
            cls_preds.append(self._cls_branch(x, i))
        return preds_x, preds_y, cls_preds

    def loss(
        self,
        mlvl_mask_preds_x,
        mlvl_mask_preds_y,
        mlvl_cls_preds,
        gt_labels,
        gt_masks,
        img_metas,
        gt_bboxes=None,
        **kwargs,
    ):
        """Dice loss of sigmoid(y) * sigmoid(x) at positive cells + focal."""
        sizes = [p.size()[-2:] for p in mlvl_mask_preds_x]
        targets, labels, _ = multi_apply(
            super()._get_targets_single,
            gt_bboxes,
            gt_labels,
            gt_masks,
            featmap_sizes=sizes,
        )
        num_pos, losses = 0.0, []
        for lvl, (px, py) in enumerate(
            zip(mlvl_mask_preds_x, mlvl_mask_preds_y)
        ):
            xs, ys = [], []
            for i in range(len(gt_labels)):
                rc = (labels[i][lvl] - self.num_classes).nonzero()
                ys.append(py[i, rc[:, 0]])
                xs.append(px[i, rc[:, 1]])
            xs, ys = torch.cat(xs), torch.cat(ys)
            if xs.size(0) == 0:
                losses.append((xs.sum() + ys.sum()).unsqueeze(0))
                continue
            num_pos += xs.size(0)
            target = torch.cat([t[lvl] for t in targets])
            losses.append(
                self.loss_mask(
                    ys.sigmoid() * xs.sigmoid(),
                    target,
                    reduction_override='none',
                )
            )
        return dict(
            loss_mask=self._mean_mask_loss(losses, num_pos),
            loss_cls=self._cls_loss(mlvl_cls_preds, zip(*labels), num_pos),
        )

    def get_results(
        self,
        mlvl_mask_preds_x,
        mlvl_mask_preds_y,
        mlvl_cls_scores,
        img_metas,
        rescale=None,
        upsample=True,
        **kwargs,
    ):
        """Eval-mode forward outputs -> result dict per image
        (``upsample``: see :func:`masks_to_results`)."""
        results = []
        for img_id, meta in enumerate(img_metas):
            scores = self._flat_levels(mlvl_cls_scores, img_id).detach()
            px = self._flat_levels(mlvl_mask_preds_x, img_id, False)
            py = self._flat_levels(mlvl_mask_preds_y, img_id, False)
            results.append(
                self._get_results_single(
                    scores, px, py, meta, self.test_cfg, upsample=upsample
                )
            )
        return results

    def _get_results_single(
        self,
        cls_scores,
        mask_preds_x,
        mask_preds_y,
        img_meta,
        cfg,
        upsample=True,
    ):
        """Candidate cell (level l, row r, col c) -> y-mask r and x-mask c of
        level l, rows of earlier levels offset by their S."""
        cfg = self.test_cfg if cfg is None else cfg
        score_mask = cls_scores > cfg.score_thr
        scores = cls_scores[score_mask]
        inds = score_mask.nonzero()
        grids = torch.tensor(self.num_grids, device=inds.device)
        cells = grids**2
        # each cell's level: how many levels end at or before it (what
        # bucketize(right=True) gives, written with ops ONNX has)
        level = (inds[:, :1] >= cells.cumsum(0)).sum(1)
        offset = inds[:, 0] - (cells.cumsum(0) - cells)[level]
        row_start = (grids.cumsum(0) - grids)[level]
        y_inds = row_start + torch.div(
            offset, grids[level], rounding_mode='floor'
        )
        x_inds = row_start + offset % grids[level]
        size = mask_preds_x.size()[-2:]
        return masks_to_results(
            mask_preds_x[x_inds] * mask_preds_y[y_inds],
            scores,
            inds[:, 1],
            self._candidate_strides(inds[:, 0]),
            img_meta,
            cfg,
            (size[0] * self.mask_stride, size[1] * self.mask_stride),
            upsample,
        )


@HEADS.register_module()
class DecoupledSOLOLightHead(DecoupledSOLOHead):
    """Decoupled SOLO with one mask tower (features + both coordinates)
    shared by the x and y predictors; ``dcn_cfg`` for the last tower conv."""

    def __init__(
        self,
        *args,
        dcn_cfg=None,
        init_cfg=_normal_init_cfg(
            'conv_mask_list_x', 'conv_mask_list_y', 'conv_cls'
        ),
        **kwargs,
    ):
        if dcn_cfg is not None and not isinstance(dcn_cfg, dict):
            raise InvalidArgumentError(
                'DecoupledSOLOLightHead: dcn_cfg must be None or a dict'
            )
        self.dcn_cfg = dcn_cfg
        super().__init__(*args, init_cfg=init_cfg, **kwargs)

    def _light_tower(self, in_channels):
        return nn.ModuleList(
            ConvModule(
                in_channels if i == 0 else self.feat_channels,
                self.feat_channels,
                3,
                stride=1,
                padding=1,
                conv_cfg=(
                    self.dcn_cfg if i == self.stacked_convs - 1 else None
                ),
                norm_cfg=self.norm_cfg,
            )
            for i in range(self.stacked_convs)
        )

    def _init_layers(self):
        self.mask_convs = self._light_tower(self.in_channels + 2)
        self.cls_convs = self._light_tower(self.in_channels)
        self._xy_predictors()

    def _xy_mask_feats(self, x, coord):
        feat = self._mask_tower(self.mask_convs, torch.cat([x, coord], 1))
        return feat, feat
