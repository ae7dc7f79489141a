"""FoveaBox's head (Kong et al., "FoveaBox: Beyond Anchor-based Object
Detector")."""

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmcv.runner import BaseModule

from ..builder import HEADS
from ..utils.deform_conv import DeformConv2d
from .anchor_free_head import AnchorFreeHead
from .base_dense_head import flatten_level_maps


class FeatureAlign(BaseModule):
    """A deformable conv whose offsets come from the (B, 4, H, W) predicted
    box sides by a 1x1 conv, then a ReLU."""

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size=3,
        deform_groups=4,
        init_cfg=dict(
            type='Normal',
            layer='Conv2d',
            std=0.1,
            override=dict(type='Normal', name='conv_adaption', std=0.01),
        ),
    ):
        super().__init__(init_cfg)
        offsets = deform_groups * kernel_size * kernel_size * 2
        self.conv_offset = nn.Conv2d(4, offsets, 1, bias=False)
        self.conv_adaption = DeformConv2d(
            in_channels,
            out_channels,
            kernel_size=kernel_size,
            padding=(kernel_size - 1) // 2,
            deform_groups=deform_groups,
        )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x, shape):
        return self.relu(self.conv_adaption(x, self.conv_offset(shape)))


@HEADS.register_module()
class FoveaHead(AnchorFreeHead):
    """Per point: class scores and the log of the four distances to the
    box sides, in units of the level's ``base_edge_list`` entry.

    A gt box belongs to every level whose ``scale_ranges`` holds
    sqrt(area); there its positives are the points of the central
    ``sigma`` fraction of the box (the fovea). Where foveae overlap the
    smaller box wins.

    Args:
        num_classes (int): object classes, background excluded.
        in_channels (int): channels of the input feature maps.
        base_edge_list (tuple[int]): per level, the distance unit (pixels).
        scale_ranges (tuple[tuple[int, int]]): per level, the range of
            sqrt(box area) it learns.
        sigma (float): the fovea's fraction of the box's width and height.
        with_deform (bool): the classification tower is a box-guided
            deformable conv (``feature_adaption``) and two convs of
            ``4 * feat_channels``.
        deform_groups (int): offset groups of that deformable conv.
        **kwargs: :class:`AnchorFreeHead`'s arguments.
    """

    def __init__(
        self,
        num_classes,
        in_channels,
        base_edge_list=(16, 32, 64, 128, 256),
        scale_ranges=((8, 32), (16, 64), (32, 128), (64, 256), (128, 512)),
        sigma=0.4,
        with_deform=False,
        deform_groups=4,
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
        self.base_edge_list = base_edge_list
        self.scale_ranges = scale_ranges
        self.sigma = sigma
        self.with_deform = with_deform
        self.deform_groups = deform_groups
        super().__init__(num_classes, in_channels, init_cfg=init_cfg, **kwargs)

    def _init_layers(self):
        self.reg_convs = self._tower()
        self.conv_reg = nn.Conv2d(self.feat_channels, 4, 3, padding=1)
        if not self.with_deform:
            self.cls_convs = self._tower()
            cls_channels = self.feat_channels
        else:
            cls_channels = self.feat_channels * 4
            self.cls_convs = nn.ModuleList(
                [
                    self._conv(self.feat_channels, cls_channels, 3),
                    self._conv(cls_channels, cls_channels, 1),
                ]
            )
            self.feature_adaption = FeatureAlign(
                self.feat_channels,
                self.feat_channels,
                kernel_size=3,
                deform_groups=self.deform_groups,
            )
        self.conv_cls = nn.Conv2d(
            cls_channels, self.cls_out_channels, 3, padding=1
        )

    def _conv(self, in_channels, out_channels, kernel_size):
        return ConvModule(
            in_channels,
            out_channels,
            kernel_size,
            padding=kernel_size // 2,
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg,
            bias=self.norm_cfg is None,
        )

    def forward_single(self, x):
        """One level -> class scores (B, C, H, W), log box sides
        (B, 4, H, W)."""
        reg_feat = x
        for layer in self.reg_convs:
            reg_feat = layer(reg_feat)
        bbox_pred = self.conv_reg(reg_feat)
        cls_feat = x
        if self.with_deform:
            cls_feat = self.feature_adaption(cls_feat, bbox_pred.exp())
        for layer in self.cls_convs:
            cls_feat = layer(cls_feat)
        return self.conv_cls(cls_feat), bbox_pred

    def loss(
        self,
        cls_scores,
        bbox_preds,
        gt_bbox_list,
        gt_label_list,
        img_metas,
        gt_bboxes_ignore=None,
    ):
        """Focal loss over all points (averaged over positives + images)
        and box loss over the positives."""
        featmap_sizes = [score.shape[-2:] for score in cls_scores]
        points = self.prior_generator.grid_priors(
            featmap_sizes,
            dtype=bbox_preds[0].dtype,
            device=bbox_preds[0].device,
        )
        labels, bbox_targets = self.get_targets(
            gt_bbox_list, gt_label_list, featmap_sizes, points
        )
        # level-major, then image, as the targets
        scores = torch.cat(
            [
                flatten_level_maps([s], self.cls_out_channels).flatten(0, 1)
                for s in cls_scores
            ]
        )
        preds = torch.cat(
            [flatten_level_maps([p], 4).flatten(0, 1) for p in bbox_preds]
        )
        pos = (labels >= 0) & (labels < self.num_classes)
        num_pos = int(pos.sum())
        loss_cls = self.loss_cls(
            scores, labels, avg_factor=num_pos + cls_scores[0].size(0)
        )
        if num_pos == 0:
            return dict(loss_cls=loss_cls, loss_bbox=preds.sum() * 0)
        targets = bbox_targets[pos]
        loss_bbox = self.loss_bbox(
            preds[pos], targets, torch.ones_like(targets), avg_factor=num_pos
        )
        return dict(loss_cls=loss_cls, loss_bbox=loss_bbox)

    def get_targets(self, gt_bbox_list, gt_label_list, featmap_sizes, points):
        """Labels (N,) and log box-side targets (N, 4) of all points,
        ordered level, image, position."""
        per_img = [
            self._get_target_single(b, lab, featmap_sizes, points)
            for b, lab in zip(gt_bbox_list, gt_label_list)
        ]
        labels = [
            lab for level in zip(*[p[0] for p in per_img]) for lab in level
        ]
        targets = [t for level in zip(*[p[1] for p in per_img]) for t in level]
        return torch.cat(labels), torch.cat(targets)

    def _get_target_single(self, gt_bboxes, gt_labels, featmap_sizes, points):
        """Per level, the (H*W,) labels and (H*W, 4) targets of one image."""
        sizes = torch.sqrt(
            (gt_bboxes[:, 2] - gt_bboxes[:, 0])
            * (gt_bboxes[:, 3] - gt_bboxes[:, 1])
        )
        labels_list, targets_list = [], []
        levels = zip(
            self.base_edge_list,
            self.scale_ranges,
            self.strides,
            featmap_sizes,
            points,
        )
        for base_len, (low, high), stride, size, level_points in levels:
            labels = gt_labels.new_full(tuple(size), self.num_classes)
            sides = gt_bboxes.new_ones(*size, 4)
            hit = ((sizes >= low) & (sizes <= high)).nonzero().flatten()
            # largest first, so that smaller boxes overwrite
            hit = hit[torch.sort(-sizes[hit])[1]]
            xy = level_points.view(*size, 2)
            for i in hit:
                y1, y2, x1, x2 = self._fovea(gt_bboxes[i] / stride, size)
                labels[y1:y2, x1:x2] = gt_labels[i]
                p = xy[y1:y2, x1:x2]
                box = gt_bboxes[i]
                sides[y1:y2, x1:x2] = (
                    torch.cat([p - box[:2], box[2:] - p], -1) / base_len
                )
            labels_list.append(labels.flatten())
            targets_list.append(sides.clamp(1 / 16, 16.0).log().view(-1, 4))
        return labels_list, targets_list

    def _fovea(self, box, size):
        """Row and column slice bounds ``y1, y2, x1, x2`` (end exclusive)
        of the fovea of a (4,) box in stride units on an (H, W) map."""
        half = 0.5 * (box[2:] - box[:2])
        low = torch.ceil(box[:2] + (1 - self.sigma) * half - 0.5).long()
        high = torch.floor(box[:2] + (1 + self.sigma) * half - 0.5).long()
        x1, y1 = (int(v) for v in low)
        x2, y2 = (int(v) for v in high)
        h, w = int(size[0]), int(size[1])
        x1, x2 = (min(max(v, 0), w - 1) for v in (x1, x2))
        y1, y2 = (min(max(v, 0), h - 1) for v in (y1, y2))
        return y1, y2 + 1, x1, x2 + 1

    def _decode_bboxes(self, priors, bbox_pred, level, img_meta):
        """Points (n, 2) and log sides (n, 4) in ``base_edge_list[level]``
        units -> boxes clipped to [0, size - 1]."""
        sides = bbox_pred.exp() * self.base_edge_list[level]
        boxes = torch.cat([priors - sides[:, :2], priors + sides[:, 2:]], -1)
        h, w = img_meta['img_shape'][0], img_meta['img_shape'][1]
        return torch.stack(
            [
                boxes[:, 0].clamp(0, w - 1),
                boxes[:, 1].clamp(0, h - 1),
                boxes[:, 2].clamp(0, w - 1),
                boxes[:, 3].clamp(0, h - 1),
            ],
            -1,
        )
