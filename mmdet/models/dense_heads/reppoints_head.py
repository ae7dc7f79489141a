"""RepPoints head (Yang et al., 2019): a set of points per position, first
predicted from the features, then refined through deformable convs that
sample at those points; boxes are read off the point sets."""

import torch
import torch.nn as nn

from mmdet.core import (
    MlvlPointGenerator,
    build_assigner,
    build_sampler,
    images_to_levels,
    multi_apply,
    unmap,
)
from mmdet.utils.arg_errors import InvalidArgumentError, check_arg
from ..builder import HEADS, build_loss
from ..utils.deform_conv import DeformConv2d
from .anchor_free_head import AnchorFreeHead

TRANSFORM_METHODS = ('minmax', 'partial_minmax', 'moment')


def _grad_mul(x, mul):
    """``x`` forward; ``mul`` times its gradient backward."""
    return (1 - mul) * x.detach() + mul * x


@HEADS.register_module()
class RepPointsHead(AnchorFreeHead):
    """RepPoints head.

    Args:
        point_feat_channels (int): channels of the point convs.
        num_points (int): points per set, an odd square (the DCN kernel).
        gradient_mul (float): multiplier of the gradient that flows from
            the refinement and classification back to the initial points.
        point_strides (list[int]): stride of every level.
        point_base_scale (int): box size, in strides, used for targets.
        loss_bbox_init, loss_bbox_refine (dict): box losses of the two
            stages (on boxes divided by ``point_base_scale * stride``).
        use_grid_points (bool): points are a regular grid on a regressed
            box (the "bbox" variant) instead of free points.
        center_init (bool): initial points at the center (else a grid of
            ``point_base_scale`` strides).
        transform_method (str): point set -> box: 'minmax',
            'partial_minmax' (first 4 points) or 'moment' (mean +- learnt
            multiple of the std).
        moment_mul (float): gradient multiplier of ``moment_transfer``.
        **kwargs: :class:`AnchorFreeHead`'s arguments.
    """

    train_cfg_keys = ('init', 'refine', 'sampler')

    def __init__(
        self,
        num_classes,
        in_channels,
        point_feat_channels=256,
        num_points=9,
        gradient_mul=0.1,
        point_strides=[8, 16, 32, 64, 128],
        point_base_scale=4,
        loss_cls=dict(
            type='FocalLoss',
            use_sigmoid=True,
            gamma=2.0,
            alpha=0.25,
            loss_weight=1.0,
        ),
        loss_bbox_init=dict(
            type='SmoothL1Loss', beta=1.0 / 9.0, loss_weight=0.5
        ),
        loss_bbox_refine=dict(
            type='SmoothL1Loss', beta=1.0 / 9.0, loss_weight=1.0
        ),
        use_grid_points=False,
        center_init=True,
        transform_method='moment',
        moment_mul=0.01,
        init_cfg=dict(
            type='Normal',
            layer='Conv2d',
            std=0.01,
            override=dict(
                type='Normal',
                name='reppoints_cls_out',
                std=0.01,
                bias_prob=0.01,
            ),
        ),
        **kwargs,
    ):
        kernel = int(round(num_points**0.5))
        check_arg(
            kernel * kernel == num_points and kernel % 2 == 1,
            'RepPointsHead',
            f'num_points must be an odd square, got {num_points}',
        )
        if transform_method not in TRANSFORM_METHODS:
            raise InvalidArgumentError(
                f'RepPointsHead: transform_method must be one of '
                f'{TRANSFORM_METHODS}, got {transform_method!r}'
            )
        self.num_points = num_points
        self.point_feat_channels = point_feat_channels
        self.use_grid_points = use_grid_points
        self.center_init = center_init
        self.dcn_kernel = kernel
        self.dcn_pad = (kernel - 1) // 2
        super().__init__(
            num_classes,
            in_channels,
            loss_cls=loss_cls,
            init_cfg=init_cfg,
            **kwargs,
        )
        self.dcn_base_offset = self._kernel_offsets()
        self.gradient_mul = gradient_mul
        self.point_base_scale = point_base_scale
        self.point_strides = point_strides
        self.prior_generator = MlvlPointGenerator(point_strides, offset=0.0)
        self.sampling = loss_cls['type'] not in ['FocalLoss']
        if self.train_cfg:
            self._build_assigners()
        self.transform_method = transform_method
        if transform_method == 'moment':
            self.moment_transfer = nn.Parameter(torch.zeros(2))
            self.moment_mul = moment_mul
        self.loss_bbox_init = build_loss(loss_bbox_init)
        self.loss_bbox_refine = build_loss(loss_bbox_refine)

    def _kernel_offsets(self):
        """(1, 2*K*K, 1, 1) (dy, dx) of the regular DCN kernel taps."""
        r = torch.arange(-self.dcn_pad, self.dcn_pad + 1, dtype=torch.float)
        dy, dx = torch.meshgrid(r, r, indexing='ij')
        return torch.stack([dy, dx], -1).view(1, -1, 1, 1)

    def _build_assigners(self):
        self.init_assigner = build_assigner(self.train_cfg['init']['assigner'])
        self.refine_assigner = build_assigner(
            self.train_cfg['refine']['assigner']
        )
        sampler_cfg = dict(type='PseudoSampler')
        if self.sampling and 'sampler' in self.train_cfg:
            sampler_cfg = self.train_cfg['sampler']
        self.sampler = build_sampler(sampler_cfg, context=self)

    def _init_layers(self):
        self.relu = nn.ReLU(inplace=True)
        self.cls_convs = self._tower()
        self.reg_convs = self._tower()
        pts_out_dim = 4 if self.use_grid_points else 2 * self.num_points
        feat, point = self.feat_channels, self.point_feat_channels
        k, pad = self.dcn_kernel, self.dcn_pad
        self.reppoints_cls_conv = DeformConv2d(feat, point, k, 1, pad)
        self.reppoints_cls_out = nn.Conv2d(point, self.cls_out_channels, 1)
        self.reppoints_pts_init_conv = nn.Conv2d(feat, point, 3, 1, 1)
        self.reppoints_pts_init_out = nn.Conv2d(point, pts_out_dim, 1)
        self.reppoints_pts_refine_conv = DeformConv2d(feat, point, k, 1, pad)
        self.reppoints_pts_refine_out = nn.Conv2d(point, pts_out_dim, 1)

    def points2bbox(self, pts, y_first=True):
        """Point sets (N, 2*num_points, ...) -> boxes (N, 4, ...) x1y1x2y2.

        Points are (y, x) pairs if ``y_first`` else (x, y) pairs.
        """
        pairs = pts.view(pts.shape[0], -1, 2, *pts.shape[2:])
        ys, xs = (pairs[:, :, 0], pairs[:, :, 1])[:: 1 if y_first else -1]
        if self.transform_method == 'moment':
            return self._moment_box(xs, ys)
        if self.transform_method == 'partial_minmax':
            xs, ys = xs[:, :4], ys[:, :4]
        return torch.cat(
            [
                xs.min(1, keepdim=True)[0],
                ys.min(1, keepdim=True)[0],
                xs.max(1, keepdim=True)[0],
                ys.max(1, keepdim=True)[0],
            ],
            dim=1,
        )

    def _moment_box(self, xs, ys):
        """Mean +- exp(moment_transfer) * std (unbiased) of the points."""
        x_mean, y_mean = xs.mean(1, keepdim=True), ys.mean(1, keepdim=True)
        x_std = torch.std(xs - x_mean, dim=1, keepdim=True)
        y_std = torch.std(ys - y_mean, dim=1, keepdim=True)
        transfer = _grad_mul(self.moment_transfer, self.moment_mul)
        half_w = x_std * torch.exp(transfer[0])
        half_h = y_std * torch.exp(transfer[1])
        return torch.cat(
            [
                x_mean - half_w,
                y_mean - half_h,
                x_mean + half_w,
                y_mean + half_h,
            ],
            dim=1,
        )

    def gen_grid_from_reg(self, reg, previous_boxes):
        """Box deltas (B, 4, H, W) on ``previous_boxes`` (B or 1, 4, H, W)
        -> (grid points (B, 2*K*K, H, W) as (y, x), regressed boxes)."""
        b, _, h, w = reg.shape
        center = (previous_boxes[:, :2] + previous_boxes[:, 2:]) / 2
        size = (previous_boxes[:, 2:] - previous_boxes[:, :2]).clamp(min=1e-6)
        new_size = size * torch.exp(reg[:, 2:])
        top_left = center + size * reg[:, :2] - 0.5 * new_size
        steps = torch.linspace(0.0, 1.0, self.dcn_kernel).type_as(reg)
        steps = steps.view(1, -1, 1, 1)
        grid_x = top_left[:, [0]] + new_size[:, [0]] * steps  # (B, K, H, W)
        grid_y = top_left[:, [1]] + new_size[:, [1]] * steps
        k = self.dcn_kernel
        grid_x = grid_x[:, None].expand(b, k, k, h, w)  # varies along dim 2
        grid_y = grid_y[:, :, None].expand(b, k, k, h, w)  # along dim 1
        grid_yx = torch.stack([grid_y, grid_x], 3).reshape(b, -1, h, w)
        box = torch.cat([top_left, top_left + new_size], 1)
        return grid_yx, box

    def forward(self, feats):
        """Training: per-level (class scores, initial points, refined
        points); test: per-level (class scores, boxes (B, 4, H, W) in
        strides from the position)."""
        return multi_apply(self.forward_single, feats)

    def _initial_prior(self, x):
        """Initial points (and box) before any prediction, in strides."""
        if self.center_init and not self.use_grid_points:
            return 0, None
        scale = self.point_base_scale / 2
        base = self.dcn_base_offset.type_as(x)
        box = x.new_tensor([-scale, -scale, scale, scale]).view(1, 4, 1, 1)
        return base / base.max() * scale, box

    def forward_single(self, x):
        points_init, bbox_init = self._initial_prior(x)
        cls_feat, pts_feat = x, x
        for conv in self.cls_convs:
            cls_feat = conv(cls_feat)
        for conv in self.reg_convs:
            pts_feat = conv(pts_feat)
        pts_init = self.reppoints_pts_init_out(
            self.relu(self.reppoints_pts_init_conv(pts_feat))
        )
        if self.use_grid_points:
            pts_init, bbox_out_init = self.gen_grid_from_reg(
                pts_init, bbox_init.detach()
            )
        else:
            pts_init = pts_init + points_init
        dcn_offset = _grad_mul(
            pts_init, self.gradient_mul
        ) - self.dcn_base_offset.type_as(x)
        cls_out = self.reppoints_cls_out(
            self.relu(self.reppoints_cls_conv(cls_feat, dcn_offset))
        )
        pts_refine = self.reppoints_pts_refine_out(
            self.relu(self.reppoints_pts_refine_conv(pts_feat, dcn_offset))
        )
        if self.use_grid_points:
            pts_refine, _ = self.gen_grid_from_reg(
                pts_refine, bbox_out_init.detach()
            )
        else:
            pts_refine = pts_refine + pts_init.detach()
        if self.training:
            return cls_out, pts_init, pts_refine
        return cls_out, self.points2bbox(pts_refine)

    # ---------------------------------------------------------- targets
    def get_points(self, featmap_sizes, img_metas, device):
        """Per image: per-level points (HW, 3) ``x, y, stride`` and valid
        flags (HW,) inside the padded image."""
        points = self.prior_generator.grid_priors(
            featmap_sizes, device=device, with_stride=True
        )
        points_list = [[p.clone() for p in points] for _ in img_metas]
        flags = [
            self.prior_generator.valid_flags(
                featmap_sizes, meta['pad_shape'], device=device
            )
            for meta in img_metas
        ]
        return points_list, flags

    def centers_to_bboxes(self, point_list):
        """Per image, per level: boxes of ``point_base_scale`` strides
        centred on the points (candidates of a box assigner)."""
        boxes = []
        for points in point_list:
            per_level = []
            for lvl, stride in enumerate(self.point_strides):
                half = self.point_base_scale * stride * 0.5
                shift = points[lvl].new_tensor([-half, -half, half, half])
                xy = points[lvl][:, :2]
                per_level.append(torch.cat([xy, xy], 1) + shift)
            boxes.append(per_level)
        return boxes

    def offset_to_pts(self, center_list, pred_list):
        """Per level: point sets (B, HW, 2*num_points) as (x, y) image
        pixels from the (y, x) offsets in strides (B, 2*num_points, H, W)."""
        pts_list = []
        for lvl, stride in enumerate(self.point_strides):
            pred = pred_list[lvl]
            b = pred.shape[0]
            yx = pred.permute(0, 2, 3, 1).reshape(b, -1, self.num_points, 2)
            xy = yx.flip(-1).reshape(b, -1, 2 * self.num_points)
            centers = torch.stack([c[lvl][:, :2] for c in center_list])
            pts_list.append(
                xy * stride + centers.repeat(1, 1, self.num_points)
            )
        return pts_list

    def _point_target_single(
        self,
        flat_proposals,
        valid_flags,
        gt_bboxes,
        gt_bboxes_ignore,
        gt_labels,
        stage='init',
        unmap_outputs=True,
    ):
        """Targets of one image's candidates (N, 3) points or (N, 4) boxes:
        labels, label weights, gt boxes, positive candidates, box weights,
        positive and negative indices (among the valid candidates)."""
        if not valid_flags.any():
            return (None,) * 7
        proposals = flat_proposals[valid_flags]
        assigner = getattr(self, f'{stage}_assigner')
        pos_weight = self.train_cfg[stage]['pos_weight']
        assign_result = assigner.assign(
            proposals,
            gt_bboxes,
            gt_bboxes_ignore,
            None if self.sampling else gt_labels,
        )
        sampled = self.sampler.sample(assign_result, proposals, gt_bboxes)
        n = proposals.shape[0]
        bbox_gt = proposals.new_zeros((n, 4))
        pos_proposals = torch.zeros_like(proposals)
        bbox_weights = proposals.new_zeros((n, 4))
        labels = proposals.new_full((n,), self.num_classes, dtype=torch.long)
        label_weights = proposals.new_zeros((n,))
        pos, neg = sampled.pos_inds, sampled.neg_inds
        if len(pos) > 0:
            bbox_gt[pos] = sampled.pos_gt_bboxes
            pos_proposals[pos] = proposals[pos]
            bbox_weights[pos] = 1.0
            labels[pos] = (
                0
                if gt_labels is None
                else gt_labels[sampled.pos_assigned_gt_inds]
            )
            label_weights[pos] = 1.0 if pos_weight <= 0 else pos_weight
        if len(neg) > 0:
            label_weights[neg] = 1.0
        targets = (labels, label_weights, bbox_gt, pos_proposals, bbox_weights)
        if unmap_outputs:
            total = flat_proposals.size(0)
            targets = tuple(unmap(t, total, valid_flags) for t in targets)
        return (*targets, pos, neg)

    def get_targets(
        self,
        proposals_list,
        valid_flag_list,
        gt_bboxes_list,
        img_metas,
        gt_bboxes_ignore_list=None,
        gt_labels_list=None,
        stage='init',
        label_channels=1,
        unmap_outputs=True,
    ):
        """Targets of a stage, per level (B, HW, ...), and the positive and
        negative counts (each image counts at least 1)."""
        if stage not in ('init', 'refine'):
            raise InvalidArgumentError(f'stage must be init/refine: {stage}')
        num_imgs = len(img_metas)
        num_level = [p.size(0) for p in proposals_list[0]]
        proposals = [torch.cat(p) for p in proposals_list]
        flags = [torch.cat(f) for f in valid_flag_list]
        ignores = gt_bboxes_ignore_list or [None] * num_imgs
        labels = gt_labels_list or [None] * num_imgs
        results = multi_apply(
            self._point_target_single,
            proposals,
            flags,
            gt_bboxes_list,
            ignores,
            labels,
            stage=stage,
            unmap_outputs=unmap_outputs,
        )
        if any(lab is None for lab in results[0]):
            return None
        *per_image, pos_inds, neg_inds = results
        num_pos = sum(max(inds.numel(), 1) for inds in pos_inds)
        num_neg = sum(max(inds.numel(), 1) for inds in neg_inds)
        per_level = [images_to_levels(t, num_level) for t in per_image]
        return (*per_level, num_pos, num_neg)

    # ------------------------------------------------------------- loss
    def loss_single(
        self,
        cls_score,
        pts_pred_init,
        pts_pred_refine,
        labels,
        label_weights,
        bbox_gt_init,
        bbox_weights_init,
        bbox_gt_refine,
        bbox_weights_refine,
        stride,
        num_total_samples_init,
        num_total_samples_refine,
    ):
        """One level's classification and two box losses."""
        cls_score = cls_score.permute(0, 2, 3, 1).reshape(
            -1, self.cls_out_channels
        )
        loss_cls = self.loss_cls(
            cls_score.contiguous(),
            labels.reshape(-1),
            label_weights.reshape(-1),
            avg_factor=num_total_samples_refine,
        )
        norm = self.point_base_scale * stride
        losses = [loss_cls]
        stages = (
            (pts_pred_init, bbox_gt_init, bbox_weights_init),
            (pts_pred_refine, bbox_gt_refine, bbox_weights_refine),
        )
        loss_fns = (self.loss_bbox_init, self.loss_bbox_refine)
        avgs = (num_total_samples_init, num_total_samples_refine)
        for (pts, gt, weights), loss_fn, avg in zip(stages, loss_fns, avgs):
            box = self.points2bbox(
                pts.reshape(-1, 2 * self.num_points), y_first=False
            )
            losses.append(
                loss_fn(
                    box / norm,
                    gt.reshape(-1, 4) / norm,
                    weights.reshape(-1, 4),
                    avg_factor=avg,
                )
            )
        return tuple(losses)

    def _refine_candidates(self, center_list, pts_preds_init):
        """Per image, per level: the boxes of the (detached) initial point
        sets, in image pixels (candidates of the refine stage)."""
        boxes = [[] for _ in center_list]
        for lvl, stride in enumerate(
            self.point_strides[: len(pts_preds_init)]
        ):
            shift = self.points2bbox(pts_preds_init[lvl].detach()) * stride
            for img, centers in enumerate(center_list):
                xy = centers[lvl][:, :2]
                boxes[img].append(
                    torch.cat([xy, xy], 1)
                    + shift[img].permute(1, 2, 0).reshape(-1, 4)
                )
        return boxes

    def loss(
        self,
        cls_scores,
        pts_preds_init,
        pts_preds_refine,
        gt_bboxes,
        gt_labels,
        img_metas,
        gt_bboxes_ignore=None,
    ):
        """Dict of per-level lists ``loss_cls``, ``loss_pts_init``,
        ``loss_pts_refine``."""
        featmap_sizes = [score.shape[-2:] for score in cls_scores]
        device = cls_scores[0].device
        centers, flags = self.get_points(featmap_sizes, img_metas, device)
        pts_init = self.offset_to_pts(centers, pts_preds_init)
        if self.train_cfg['init']['assigner']['type'] == 'PointAssigner':
            candidates = centers
        else:
            candidates = self.centers_to_bboxes(centers)
        gts = dict(
            gt_bboxes_list=gt_bboxes,
            img_metas=img_metas,
            gt_bboxes_ignore_list=gt_bboxes_ignore,
            gt_labels_list=gt_labels,
        )
        init = self.get_targets(candidates, flags, stage='init', **gts)
        bbox_gt_init, _, bbox_w_init, pos_init, neg_init = init[2:]
        centers, flags = self.get_points(featmap_sizes, img_metas, device)
        pts_refine = self.offset_to_pts(centers, pts_preds_refine)
        candidates = self._refine_candidates(centers, pts_preds_init)
        refine = self.get_targets(candidates, flags, stage='refine', **gts)
        labels, label_w, bbox_gt_refine, _, bbox_w_refine = refine[:5]
        pos_ref, neg_ref = refine[5:]
        losses_cls, losses_init, losses_refine = multi_apply(
            self.loss_single,
            cls_scores,
            pts_init,
            pts_refine,
            labels,
            label_w,
            bbox_gt_init,
            bbox_w_init,
            bbox_gt_refine,
            bbox_w_refine,
            self.point_strides,
            num_total_samples_init=pos_init + neg_init * self.sampling,
            num_total_samples_refine=pos_ref + neg_ref * self.sampling,
        )
        return dict(
            loss_cls=losses_cls,
            loss_pts_init=losses_init,
            loss_pts_refine=losses_refine,
        )

    # ------------------------------------------------------------- test
    def _decode_bboxes(self, priors, bbox_pred, level, img_meta):
        """Boxes in strides from the points -> image pixels, clipped."""
        xy = priors[:, :2]
        boxes = bbox_pred * self.point_strides[level] + torch.cat([xy, xy], 1)
        h, w = img_meta['img_shape'][:2]
        return torch.stack(
            [
                boxes[:, 0].clamp(0, w),
                boxes[:, 1].clamp(0, h),
                boxes[:, 2].clamp(0, w),
                boxes[:, 3].clamp(0, h),
            ],
            -1,
        )
