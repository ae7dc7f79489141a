"""TOOD's head (Feng et al., "TOOD: Task-aligned One-stage Object
Detection").

One shared tower whose stacked features are mixed per task by a layer
attention (:class:`TaskDecomposition`); the class score is the geometric
mean of the classifier and a spatial probability map, and the box is
resampled at learned per-side offsets. The first ``initial_epoch`` epochs
train with ATSS labels and a focal loss, then with the task-aligned
assigner and the quality focal loss on normalised alignment metrics.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule, Scale, bias_init_with_prob, normal_init
from mmcv.runner import force_fp32
from torchvision.ops import deform_conv2d

from mmdet.core import (
    anchor_inside_flags,
    build_assigner,
    distance2bbox,
    images_to_levels,
    reduce_mean,
    unmap,
)
from mmdet.utils.arg_errors import InvalidArgumentError
from ..builder import HEADS, build_loss
from ..utils.misc import sigmoid_geometric_mean
from .anchor_head import TRAIN_CFG_KEYS
from .atss_head import ATSSHead


class TaskDecomposition(nn.Module):
    """A 1x1 conv from the ``stacked_convs`` concatenated tower outputs to
    ``feat_channels``, its input groups weighted per image by a layer
    attention computed from the pooled features.

    Args:
        feat_channels (int): channels of each tower output (and output).
        stacked_convs (int): number of tower outputs concatenated.
        la_down_rate (int): channel reduction of the attention's hidden
            layer.
        conv_cfg, norm_cfg (dict, optional): of the reduction conv.
    """

    def __init__(
        self,
        feat_channels,
        stacked_convs,
        la_down_rate=8,
        conv_cfg=None,
        norm_cfg=None,
    ):
        super().__init__()
        self.feat_channels = feat_channels
        self.stacked_convs = stacked_convs
        self.in_channels = feat_channels * stacked_convs
        self.norm_cfg = norm_cfg
        hidden = self.in_channels // la_down_rate
        self.layer_attention = nn.Sequential(
            nn.Conv2d(self.in_channels, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, stacked_convs, 1, padding=0),
            nn.Sigmoid(),
        )
        self.reduction_conv = ConvModule(
            self.in_channels,
            feat_channels,
            1,
            stride=1,
            padding=0,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            bias=norm_cfg is None,
        )

    def init_weights(self):
        for m in self.layer_attention.modules():
            if isinstance(m, nn.Conv2d):
                normal_init(m, std=0.001)
        normal_init(self.reduction_conv.conv, std=0.01)

    def forward(self, feat, avg_feat=None):
        """(B, S*C, H, W) stacked features (and their (B, S*C, 1, 1) mean)
        -> (B, C, H, W): the reduction conv with its weight's S input
        groups scaled by the attention; its bias is not used (as in
        MMDetection), then the norm and activation."""
        b, _, h, w = feat.shape
        if avg_feat is None:
            avg_feat = F.adaptive_avg_pool2d(feat, (1, 1))
        attention = self.layer_attention(avg_feat).reshape(
            b, 1, self.stacked_convs, 1
        )
        weight = self.reduction_conv.conv.weight.reshape(
            1, self.feat_channels, self.stacked_convs, self.feat_channels
        )
        weight = (attention * weight).reshape(
            b, self.feat_channels, self.in_channels
        )
        out = torch.bmm(weight, feat.reshape(b, self.in_channels, h * w))
        out = out.reshape(b, self.feat_channels, h, w)
        if self.norm_cfg is not None:
            out = self.reduction_conv.norm(out)
        return self.reduction_conv.activate(out)


@HEADS.register_module()
class TOODHead(ATSSHead):
    """Task-aligned head.

    Args:
        num_classes (int): object classes, background excluded.
        in_channels (int): channels of the input feature maps.
        num_dcn (int): the first ``num_dcn`` tower convs are DCNv2 (4
            deformable groups).
        anchor_type (str): 'anchor_free' (exp distances from the anchor
            centre) or 'anchor_based' (deltas decoded on the anchor).
        initial_loss_cls (dict): classification loss of the warm-up epochs.
        **kwargs: :class:`ATSSHead`'s arguments. ``train_cfg`` also holds
            ``initial_epoch``, ``initial_assigner``, ``alpha`` and ``beta``.
    """

    train_cfg_keys = TRAIN_CFG_KEYS + (
        'initial_epoch',
        'initial_assigner',
        'alpha',
        'beta',
    )

    def __init__(
        self,
        num_classes,
        in_channels,
        num_dcn=0,
        anchor_type='anchor_free',
        initial_loss_cls=dict(
            type='FocalLoss',
            use_sigmoid=True,
            activated=True,
            gamma=2.0,
            alpha=0.25,
            loss_weight=1.0,
        ),
        **kwargs,
    ):
        if anchor_type not in ('anchor_free', 'anchor_based'):
            raise InvalidArgumentError(
                "anchor_type must be 'anchor_free' or 'anchor_based', got "
                f'{anchor_type!r}'
            )
        self.num_dcn = num_dcn
        self.anchor_type = anchor_type
        self.epoch = 0  # set by SetEpochInfoHook through TOOD.set_epoch
        super().__init__(num_classes, in_channels, **kwargs)
        if self.train_cfg:
            self.initial_epoch = self.train_cfg['initial_epoch']
            self.initial_assigner = build_assigner(
                self.train_cfg['initial_assigner']
            )
            self.initial_loss_cls = build_loss(initial_loss_cls)
            self.assigner = self.initial_assigner
            self.alignment_assigner = build_assigner(
                self.train_cfg['assigner']
            )
            self.alpha = self.train_cfg['alpha']
            self.beta = self.train_cfg['beta']

    def _init_layers(self):
        self.relu = nn.ReLU(inplace=True)
        self.inter_convs = nn.ModuleList(
            [
                ConvModule(
                    self.in_channels if i == 0 else self.feat_channels,
                    self.feat_channels,
                    3,
                    stride=1,
                    padding=1,
                    conv_cfg=(
                        dict(type='DCNv2', deform_groups=4)
                        if i < self.num_dcn
                        else self.conv_cfg
                    ),
                    norm_cfg=self.norm_cfg,
                )
                for i in range(self.stacked_convs)
            ]
        )
        self.cls_decomp = self._decomposition()
        self.reg_decomp = self._decomposition()
        a = self.num_base_priors
        self.tood_cls = nn.Conv2d(
            self.feat_channels, a * self.cls_out_channels, 3, padding=1
        )
        self.tood_reg = nn.Conv2d(self.feat_channels, a * 4, 3, padding=1)
        self.cls_prob_module = self._side_branch(1)
        self.reg_offset_module = self._side_branch(4 * 2)
        self.scales = nn.ModuleList(
            [Scale(1.0) for _ in self.prior_generator.strides]
        )

    def _decomposition(self):
        return TaskDecomposition(
            self.feat_channels,
            self.stacked_convs,
            self.stacked_convs * 8,
            self.conv_cfg,
            self.norm_cfg,
        )

    def _side_branch(self, out_channels):
        """1x1 conv to C/4, ReLU, 3x3 conv: on the stacked features."""
        stacked = self.feat_channels * self.stacked_convs
        return nn.Sequential(
            nn.Conv2d(stacked, self.feat_channels // 4, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(self.feat_channels // 4, out_channels, 3, padding=1),
        )

    def init_weights(self):
        bias_cls = bias_init_with_prob(0.01)
        for m in self.inter_convs:
            normal_init(m.conv, std=0.01)
        for m in self.cls_prob_module:
            if isinstance(m, nn.Conv2d):
                normal_init(m, std=0.01)
        for m in self.reg_offset_module:
            if isinstance(m, nn.Conv2d):
                normal_init(m, std=0.001)
        normal_init(self.cls_prob_module[-1], std=0.01, bias=bias_cls)
        self.cls_decomp.init_weights()
        self.reg_decomp.init_weights()
        normal_init(self.tood_cls, std=0.01, bias=bias_cls)
        normal_init(self.tood_reg, std=0.01)

    def forward(self, feats):
        """Per level: class probabilities (B, A*C, H, W) and boxes
        ``x1, y1, x2, y2`` (B, 4, H, W) in units of the level's stride."""
        outs = [
            self.forward_single(x, scale, level)
            for level, (x, scale) in enumerate(zip(feats, self.scales))
        ]
        cls_scores, bbox_preds = zip(*outs)
        return cls_scores, bbox_preds

    def forward_single(self, x, scale, level):
        """One level -> class probabilities and boxes (in strides)."""
        b, _, h, w = x.shape
        stride = self.prior_generator.strides[level][0]
        anchors = self.prior_generator.single_level_grid_priors(
            (h, w), level, device=x.device
        ).repeat(b, 1)
        inter_feats = []
        for conv in self.inter_convs:
            x = conv(x)
            inter_feats.append(x)
        feat = torch.cat(inter_feats, 1)
        avg_feat = F.adaptive_avg_pool2d(feat, (1, 1))
        cls_logits = self.tood_cls(self.cls_decomp(feat, avg_feat))
        cls_score = sigmoid_geometric_mean(
            cls_logits, self.cls_prob_module(feat)
        )
        reg_out = self.tood_reg(self.reg_decomp(feat, avg_feat))
        reg_bbox = self._level_boxes(reg_out, scale, anchors, stride)
        reg_bbox = reg_bbox.reshape(b, h, w, 4).permute(0, 3, 1, 2)
        bbox_pred = self.deform_sampling(
            reg_bbox.contiguous(), self.reg_offset_module(feat).contiguous()
        )
        # a resampled box with x1 > x2 or y1 > y2 falls back to the
        # unresampled one
        invalid = (bbox_pred[:, [0]] > bbox_pred[:, [2]]) | (
            bbox_pred[:, [1]] > bbox_pred[:, [3]]
        )
        bbox_pred = torch.where(
            invalid.expand_as(bbox_pred), reg_bbox, bbox_pred
        )
        return cls_score, bbox_pred

    def _level_boxes(self, reg_out, scale, anchors, stride):
        """(B, 4, H, W) regression output -> (B*H*W, 4) boxes in strides."""
        if self.anchor_type == 'anchor_free':
            dist = scale(reg_out.exp()).float()
            dist = dist.permute(0, 2, 3, 1).reshape(-1, 4)
            return distance2bbox(self.anchor_center(anchors) / stride, dist)
        deltas = scale(reg_out).float().permute(0, 2, 3, 1).reshape(-1, 4)
        return self.bbox_coder.decode(anchors, deltas) / stride

    def deform_sampling(self, feat, offset):
        """Sample each channel of ``feat`` (B, C, H, W) bilinearly at its
        own offset: ``offset`` (B, 2C, H, W) holds ``(dy, dx)`` per
        channel, in cells."""
        c = feat.size(1)
        weight = feat.new_ones(c, 1, 1, 1)
        return deform_conv2d(feat, offset, weight, stride=1, padding=0)

    @staticmethod
    def anchor_center(anchors):
        """(N, 4) anchors -> (N, 2) centres ``x, y``."""
        return torch.stack(
            [
                (anchors[:, 0] + anchors[:, 2]) / 2,
                (anchors[:, 1] + anchors[:, 3]) / 2,
            ],
            dim=-1,
        )

    # --------------------------------------------------------- test time
    def _class_scores(self, scores):
        return scores  # already probabilities

    def _level_bbox_pred(self, bbox_pred, level):
        stride = self.prior_generator.strides[level][0]
        return bbox_pred.permute(1, 2, 0).reshape(-1, 4) * stride

    def _decode_bboxes(self, priors, bbox_pred, level, img_meta):
        return bbox_pred  # already boxes, not clipped (as MMDetection)

    # -------------------------------------------------------------- loss
    @property
    def _warming_up(self):
        return self.epoch < self.initial_epoch

    @force_fp32(apply_to=('cls_scores', 'bbox_preds'))
    def loss(
        self,
        cls_scores,
        bbox_preds,
        gt_bboxes,
        gt_labels,
        img_metas,
        gt_bboxes_ignore=None,
    ):
        """Per-level classification and GIoU losses, averaged over the sum
        of the alignment metrics (of the box weights for the box loss).

        Returns:
            dict[str, list[Tensor]]: ``loss_cls``, ``loss_bbox``.
        """
        num_imgs = len(img_metas)
        featmap_sizes = [s.size()[-2:] for s in cls_scores]
        anchor_list, valid_flag_list = self.get_anchors(
            featmap_sizes, img_metas, device=cls_scores[0].device
        )
        strides = [s[0] for s in self.prior_generator.strides]
        flat_scores = torch.cat(
            [
                s.permute(0, 2, 3, 1).reshape(
                    num_imgs, -1, self.cls_out_channels
                )
                for s in cls_scores
            ],
            1,
        )
        flat_boxes = torch.cat(
            [
                p.permute(0, 2, 3, 1).reshape(num_imgs, -1, 4) * s
                for p, s in zip(bbox_preds, strides)
            ],
            1,
        )
        targets = self.get_targets(
            flat_scores,
            flat_boxes,
            anchor_list,
            valid_flag_list,
            gt_bboxes,
            img_metas,
            gt_bboxes_ignore_list=gt_bboxes_ignore,
            gt_labels_list=gt_labels,
        )
        per_level = [
            self.loss_single(*args)
            for args in zip(*targets[:1], cls_scores, bbox_preds,
                            *targets[1:], strides)
        ]  # fmt: skip
        losses_cls, losses_bbox, cls_sums, bbox_sums = zip(*per_level)
        cls_avg = reduce_mean(sum(cls_sums)).clamp_(min=1).item()
        bbox_avg = reduce_mean(sum(bbox_sums)).clamp_(min=1).item()
        return dict(
            loss_cls=[loss / cls_avg for loss in losses_cls],
            loss_bbox=[loss / bbox_avg for loss in losses_bbox],
        )

    def loss_single(
        self,
        anchors,
        cls_score,
        bbox_pred,
        labels,
        label_weights,
        bbox_targets,
        alignment_metrics,
        stride,
    ):
        """Unnormalised losses of one level, with the sums of the
        alignment metrics and of the positives' box weights.

        Args:
            anchors (Tensor): (B, N, 4).
            cls_score (Tensor): (B, A*C, H, W) probabilities.
            bbox_pred (Tensor): (B, 4, H, W) boxes in strides.
            labels, label_weights, alignment_metrics (Tensor): (B, N).
            bbox_targets (Tensor): (B, N, 4) gt boxes in pixels.
            stride (int | tuple): the level's stride.
        """
        stride = stride[0] if isinstance(stride, tuple) else stride
        anchors = anchors.reshape(-1, 4)
        cls_score = cls_score.permute(0, 2, 3, 1).reshape(
            -1, self.cls_out_channels
        )
        bbox_pred = bbox_pred.permute(0, 2, 3, 1).reshape(-1, 4)
        bbox_targets = bbox_targets.reshape(-1, 4)
        labels = labels.reshape(-1)
        metrics = alignment_metrics.reshape(-1)
        if self._warming_up:
            loss_cls = self.initial_loss_cls(
                cls_score, labels, label_weights.reshape(-1), avg_factor=1.0
            )
        else:
            loss_cls = self.loss_cls(
                cls_score,
                (labels, metrics),
                label_weights.reshape(-1),
                avg_factor=1.0,
            )
        pos = ((labels >= 0) & (labels < self.num_classes)).nonzero()
        pos = pos.squeeze(1)
        if len(pos) == 0:
            zero = bbox_targets.new_tensor(0.0)
            return loss_cls, bbox_pred.sum() * 0, metrics.sum(), zero
        pos_targets = bbox_targets[pos]
        weight = (
            self.centerness_target(anchors[pos], pos_targets)
            if self._warming_up
            else metrics[pos]
        )
        loss_bbox = self.loss_bbox(
            bbox_pred[pos], pos_targets / stride, weight=weight, avg_factor=1.0
        )
        return loss_cls, loss_bbox, metrics.sum(), weight.sum()

    # ----------------------------------------------------------- targets
    def get_targets(
        self,
        cls_scores,
        bbox_preds,
        anchor_list,
        valid_flag_list,
        gt_bboxes_list,
        img_metas,
        gt_bboxes_ignore_list=None,
        gt_labels_list=None,
        label_channels=1,
        unmap_outputs=True,
    ):
        """Targets of every anchor: ATSS ones while warming up, else the
        task-aligned ones from the predictions.

        Args:
            cls_scores (Tensor): (B, N, C) probabilities, levels joined.
            bbox_preds (Tensor): (B, N, 4) boxes in pixels.
            anchor_list, valid_flag_list: ``[image][level]`` (N_l, 4|).

        Returns:
            tuple[list[Tensor]] | None: per level (B, N_l[, 4]) anchors,
            labels, label weights, box targets (gt boxes) and normalised
            alignment metrics (ATSS: 1 on positives).
        """
        num_imgs = len(img_metas)
        num_level_anchors = [a.size(0) for a in anchor_list[0]]
        if gt_bboxes_ignore_list is None:
            gt_bboxes_ignore_list = [None] * num_imgs
        if gt_labels_list is None:
            gt_labels_list = [None] * num_imgs
        per_image = []
        for i in range(num_imgs):
            args = (
                torch.cat(anchor_list[i]),
                torch.cat(valid_flag_list[i]),
            )
            gts = (gt_bboxes_list[i], gt_bboxes_ignore_list[i])
            if self._warming_up:
                res = self._get_atss_targets_single(
                    *args, num_level_anchors, *gts, gt_labels_list[i],
                    img_metas[i],
                )  # fmt: skip
                res = None if res is None else res[:4] + (res[4][:, 0],)
            else:
                res = self._get_target_single(
                    cls_scores[i], bbox_preds[i], *args, *gts,
                    gt_labels_list[i], img_metas[i],
                )  # fmt: skip
            per_image.append(res)
        if any(res is None for res in per_image):
            return None
        return tuple(
            images_to_levels(list(t), num_level_anchors)
            for t in zip(*per_image)
        )

    def _get_target_single(
        self,
        cls_scores,
        bbox_preds,
        flat_anchors,
        valid_flags,
        gt_bboxes,
        gt_bboxes_ignore,
        gt_labels,
        img_meta,
        label_channels=1,
        unmap_outputs=True,
    ):
        """Task-aligned targets of one image: anchors, labels, label
        weights, box targets (N, 4) and the alignment metrics normalised
        per gt so that its best anchor gets the gt's best IoU; None if no
        anchor is inside the image."""
        inside = anchor_inside_flags(
            flat_anchors,
            valid_flags,
            img_meta['img_shape'][:2],
            self.train_cfg['allowed_border'],
        )
        if not inside.any():
            return None
        anchors = flat_anchors[inside]
        assign_result = self.alignment_assigner.assign(
            cls_scores[inside],
            bbox_preds[inside],
            anchors,
            gt_bboxes,
            gt_bboxes_ignore,
            gt_labels,
            self.alpha,
            self.beta,
        )
        sampling_result = self.sampler.sample(
            assign_result, anchors, gt_bboxes
        )
        labels, label_weights, bbox_targets, _ = self._sampled_targets(
            anchors, sampling_result, gt_labels
        )
        metrics = self._normalized_metrics(
            sampling_result,
            assign_result.assign_metrics,
            assign_result.max_overlaps,
        )
        total = flat_anchors.size(0)
        return (
            unmap(anchors, total, inside),
            unmap(labels, total, inside, fill=self.num_classes),
            unmap(label_weights, total, inside),
            unmap(bbox_targets, total, inside),
            unmap(metrics, total, inside),
        )

    @staticmethod
    def _normalized_metrics(sampling_result, assign_metrics, assign_ious):
        """(N,) metrics of the positives scaled per gt to ``metric /
        max(metric) * max(IoU)`` over that gt's positives; 0 elsewhere."""
        out = assign_metrics.new_zeros(assign_metrics.shape)
        pos_inds = sampling_result.pos_inds
        gt_inds = sampling_result.pos_assigned_gt_inds
        for gt in torch.unique(gt_inds):
            inds = pos_inds[gt_inds == gt]
            metric = assign_metrics[inds]
            out[inds] = (
                metric / (metric.max() + 1e-7) * assign_ious[inds].max()
            )
        return out
