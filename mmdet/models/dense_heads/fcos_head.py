"""FCOS's head (Tian et al., "FCOS: Fully Convolutional One-Stage Object
Detection")."""

import torch
import torch.nn as nn
from mmcv.cnn import Scale
from mmcv.runner import force_fp32

from mmdet.core import reduce_mean
from mmdet.utils.arg_errors import InvalidArgumentError
from ..builder import HEADS, build_loss
from .anchor_free_head import AnchorFreeHead

INF = 1e8


@HEADS.register_module()
class FCOSHead(AnchorFreeHead):
    """Per point: class scores, distances to the four box sides and a
    centerness logit.

    A point is a positive of the smallest-area gt box that contains it
    (or, with ``center_sampling``, contains it within ``radius * stride``
    of the box centre) and whose largest side distance lies in the level's
    ``regress_ranges`` entry.

    Args:
        num_classes (int): object classes, background excluded.
        in_channels (int): channels of the input feature maps.
        regress_ranges (tuple[tuple[int, int]]): per level, the range of
            the largest side distance (pixels) the level regresses.
        center_sampling (bool): positives only near the box centre.
        center_sample_radius (float): that radius, in strides.
        norm_on_bbox (bool): regress distances in strides (ReLU output)
            instead of pixels (exp output).
        centerness_on_reg (bool): centerness from the box tower instead of
            the classification tower.
        loss_cls, loss_bbox, loss_centerness (dict): the losses.
        norm_cfg (dict): normalization of the towers (GroupNorm, 32).
        init_cfg (dict): initialization config.
        **kwargs: :class:`AnchorFreeHead`'s arguments.
    """

    def __init__(
        self,
        num_classes,
        in_channels,
        regress_ranges=(
            (-1, 64),
            (64, 128),
            (128, 256),
            (256, 512),
            (512, INF),
        ),
        center_sampling=False,
        center_sample_radius=1.5,
        norm_on_bbox=False,
        centerness_on_reg=False,
        loss_cls=dict(
            type='FocalLoss',
            use_sigmoid=True,
            gamma=2.0,
            alpha=0.25,
            loss_weight=1.0,
        ),
        loss_bbox=dict(type='IoULoss', loss_weight=1.0),
        loss_centerness=dict(
            type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0
        ),
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
        init_cfg=dict(
            type='Normal',
            layer='Conv2d',
            std=0.01,
            override=dict(
                type='Normal', name='conv_cls', std=0.01, bias_prob=0.01
            ),
        ),
        **kwargs,
    ):
        self.regress_ranges = regress_ranges
        self.center_sampling = center_sampling
        self.center_sample_radius = center_sample_radius
        self.norm_on_bbox = norm_on_bbox
        self.centerness_on_reg = centerness_on_reg
        super().__init__(
            num_classes,
            in_channels,
            loss_cls=loss_cls,
            loss_bbox=loss_bbox,
            norm_cfg=norm_cfg,
            init_cfg=init_cfg,
            **kwargs,
        )
        if len(self.regress_ranges) != len(self.strides):
            raise InvalidArgumentError(
                f'{len(self.regress_ranges)} regress_ranges '
                f'for {len(self.strides)} strides'
            )
        self.loss_centerness = build_loss(loss_centerness)

    def _init_layers(self):
        super()._init_layers()
        self.conv_centerness = nn.Conv2d(self.feat_channels, 1, 3, padding=1)
        self.scales = nn.ModuleList([Scale(1.0) for _ in self.strides])

    def forward(self, feats):
        """Per level: class scores (B, C, H, W), side distances (B, 4, H,
        W) and centerness logits (B, 1, H, W), as three lists.

        Distances are in strides when training with ``norm_on_bbox``,
        else in input pixels."""
        outs = [
            self.forward_single(x, scale, stride)
            for x, scale, stride in zip(feats, self.scales, self.strides)
        ]
        return tuple(map(list, zip(*outs)))

    def forward_single(self, x, scale, stride):
        """One level -> class scores, side distances, centerness."""
        cls_score, bbox_pred, cls_feat, reg_feat = super().forward_single(x)
        centerness = self.conv_centerness(
            reg_feat if self.centerness_on_reg else cls_feat
        )
        # a learned scale per level before the distance activation
        bbox_pred = scale(bbox_pred).float()
        if self.norm_on_bbox:
            bbox_pred = bbox_pred.clamp(min=0)
            if not self.training:
                bbox_pred = bbox_pred * stride
        else:
            bbox_pred = bbox_pred.exp()
        return cls_score, bbox_pred, centerness

    @force_fp32(apply_to=('cls_scores', 'bbox_preds', 'centernesses'))
    def loss(
        self,
        cls_scores,
        bbox_preds,
        centernesses,
        gt_bboxes,
        gt_labels,
        img_metas,
        gt_bboxes_ignore=None,
    ):
        """Focal, IoU (weighted by the centerness targets) and centerness
        losses over all points of all images.

        Returns:
            dict[str, Tensor]: ``loss_cls``, ``loss_bbox``,
            ``loss_centerness``.
        """
        assert len(cls_scores) == len(bbox_preds) == len(centernesses)
        featmap_sizes = [score.size()[-2:] for score in cls_scores]
        points = self.prior_generator.grid_priors(
            featmap_sizes,
            dtype=bbox_preds[0].dtype,
            device=bbox_preds[0].device,
        )
        labels, bbox_targets = self.get_targets(points, gt_bboxes, gt_labels)
        num_imgs = cls_scores[0].size(0)
        # level-major, then image, then position
        flat_cls = torch.cat(
            [
                s.permute(0, 2, 3, 1).reshape(-1, self.cls_out_channels)
                for s in cls_scores
            ]
        )
        flat_bbox = torch.cat(
            [p.permute(0, 2, 3, 1).reshape(-1, 4) for p in bbox_preds]
        )
        flat_ctr = torch.cat(
            [c.permute(0, 2, 3, 1).reshape(-1) for c in centernesses]
        )
        flat_labels = torch.cat(labels)
        flat_targets = torch.cat(bbox_targets)
        flat_points = torch.cat([p.repeat(num_imgs, 1) for p in points])

        pos_inds = (
            ((flat_labels >= 0) & (flat_labels < self.num_classes))
            .nonzero()
            .reshape(-1)
        )
        num_pos = max(
            reduce_mean(flat_cls.new_tensor(float(len(pos_inds)))), 1.0
        )
        loss_cls = self.loss_cls(flat_cls, flat_labels, avg_factor=num_pos)

        pos_bbox = flat_bbox[pos_inds]
        pos_ctr = flat_ctr[pos_inds]
        pos_targets = flat_targets[pos_inds]
        ctr_targets = self.centerness_target(pos_targets)
        ctr_denorm = max(reduce_mean(ctr_targets.sum().detach()), 1e-6)
        if len(pos_inds) > 0:
            pos_points = flat_points[pos_inds]
            loss_bbox = self.loss_bbox(
                self.bbox_coder.decode(pos_points, pos_bbox),
                self.bbox_coder.decode(pos_points, pos_targets),
                weight=ctr_targets,
                avg_factor=ctr_denorm,
            )
            loss_centerness = self.loss_centerness(
                pos_ctr, ctr_targets, avg_factor=num_pos
            )
        else:
            loss_bbox = pos_bbox.sum()
            loss_centerness = pos_ctr.sum()
        return dict(
            loss_cls=loss_cls,
            loss_bbox=loss_bbox,
            loss_centerness=loss_centerness,
        )

    def get_targets(self, points, gt_bboxes_list, gt_labels_list):
        """Labels and side distances of every point of every image.

        Args:
            points (list[Tensor]): per level (N_l, 2) points.
            gt_bboxes_list (list[Tensor]): per image (k, 4) boxes.
            gt_labels_list (list[Tensor]): per image (k,) labels.

        Returns:
            tuple[list[Tensor]]: per level, the images concatenated:
            labels (B * N_l,) (``num_classes`` = background) and distances
            (B * N_l, 4) ``left, top, right, bottom`` (in strides with
            ``norm_on_bbox``, else pixels).
        """
        if len(points) != len(self.regress_ranges):
            raise InvalidArgumentError(
                f'{len(points)} point levels for '
                f'{len(self.regress_ranges)} regress_ranges'
            )
        ranges = torch.cat(
            [
                p.new_tensor(r)[None].expand_as(p)
                for p, r in zip(points, self.regress_ranges)
            ]
        )
        num_points = [p.size(0) for p in points]
        all_points = torch.cat(points)
        per_image = [
            self._get_target_single(
                bboxes, labels, all_points, ranges, num_points
            )
            for bboxes, labels in zip(gt_bboxes_list, gt_labels_list)
        ]
        level_labels, level_targets = [], []
        for lvl, stride in enumerate(self.strides):
            level_labels.append(
                torch.cat([lab.split(num_points)[lvl] for lab, _ in per_image])
            )
            targets = torch.cat(
                [tgt.split(num_points)[lvl] for _, tgt in per_image]
            )
            if self.norm_on_bbox:
                targets = targets / stride
            level_targets.append(targets)
        return level_labels, level_targets

    def _get_target_single(
        self, gt_bboxes, gt_labels, points, regress_ranges, num_points_per_lvl
    ):
        """(N,) labels and (N, 4) pixel distances of one image's points."""
        num_points, num_gts = points.size(0), gt_labels.size(0)
        if num_gts == 0:
            return gt_labels.new_full(
                (num_points,), self.num_classes
            ), gt_bboxes.new_zeros((num_points, 4))
        areas = (
            (gt_bboxes[:, 2] - gt_bboxes[:, 0])
            * (gt_bboxes[:, 3] - gt_bboxes[:, 1])
        )[None].repeat(num_points, 1)
        regress_ranges = regress_ranges[:, None, :].expand(
            num_points, num_gts, 2
        )
        boxes = gt_bboxes[None].expand(num_points, num_gts, 4)
        xs = points[:, 0, None].expand(num_points, num_gts)
        ys = points[:, 1, None].expand(num_points, num_gts)
        bbox_targets = torch.stack(
            (
                xs - boxes[..., 0],
                ys - boxes[..., 1],
                boxes[..., 2] - xs,
                boxes[..., 3] - ys,
            ),
            -1,
        )

        if self.center_sampling:
            inside = self._inside_center_region(
                boxes, xs, ys, num_points_per_lvl
            )
        else:
            inside = bbox_targets.min(-1).values > 0
        max_dist = bbox_targets.max(-1).values
        in_range = (max_dist >= regress_ranges[..., 0]) & (
            max_dist <= regress_ranges[..., 1]
        )
        areas[~inside] = INF
        areas[~in_range] = INF
        min_area, min_area_inds = areas.min(dim=1)
        labels = gt_labels[min_area_inds]
        labels[min_area == INF] = self.num_classes
        bbox_targets = bbox_targets[range(num_points), min_area_inds]
        return labels, bbox_targets

    def _inside_center_region(self, boxes, xs, ys, num_points_per_lvl):
        """(N, k) bool: the point lies within ``radius * stride`` of the
        box centre (and inside the box)."""
        radius = xs.new_zeros(xs.shape)
        start = 0
        for stride, num in zip(self.strides, num_points_per_lvl):
            radius[start : start + num] = stride * self.center_sample_radius
            start += num
        cx = (boxes[..., 0] + boxes[..., 2]) / 2
        cy = (boxes[..., 1] + boxes[..., 3]) / 2
        x1 = torch.max(cx - radius, boxes[..., 0])
        y1 = torch.max(cy - radius, boxes[..., 1])
        x2 = torch.min(cx + radius, boxes[..., 2])
        y2 = torch.min(cy + radius, boxes[..., 3])
        dists = torch.stack((xs - x1, ys - y1, x2 - xs, y2 - ys), -1)
        return dists.min(-1).values > 0

    @staticmethod
    def centerness_target(pos_bbox_targets):
        """(n, 4) ``left, top, right, bottom`` -> (n,) centerness
        ``sqrt(min(l, r) / max(l, r) * min(t, b) / max(t, b))``."""
        left_right = pos_bbox_targets[:, [0, 2]]
        top_bottom = pos_bbox_targets[:, [1, 3]]
        if len(left_right) == 0:
            return left_right[..., 0]
        ratio = (
            left_right.min(dim=-1).values / left_right.max(dim=-1).values
        ) * (top_bottom.min(dim=-1).values / top_bottom.max(dim=-1).values)
        return torch.sqrt(ratio)
