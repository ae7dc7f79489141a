"""ATSS's head (Zhang et al., "Bridging the Gap Between Anchor-based and
Anchor-free Detection via Adaptive Training Sample Selection")."""

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, Scale
from mmcv.runner import force_fp32

from mmdet.core import (
    anchor_inside_flags,
    images_to_levels,
    reduce_mean,
    unmap,
)
from ..builder import HEADS, build_loss
from .anchor_head import AnchorHead


@HEADS.register_module()
class ATSSHead(AnchorHead):
    """GroupNorm towers like RetinaNet's, one anchor per position, a
    centerness branch on the box tower and a learned ``Scale`` per level;
    anchors are assigned by :class:`ATSSAssigner` and boxes regressed as
    decoded boxes (GIoU loss weighted by the centerness targets).

    Args:
        num_classes (int): object classes, background excluded.
        in_channels (int): channels of the input feature maps.
        pred_kernel_size (int): kernel of the prediction convs.
        stacked_convs (int): convs per tower.
        conv_cfg (dict, optional): config of the tower convs.
        norm_cfg (dict): normalization of the tower convs.
        reg_decoded_bbox (bool): regress decoded boxes (True for GIoU).
        loss_centerness (dict): centerness loss (sigmoid cross-entropy).
        init_cfg (dict): initialization config.
        **kwargs: :class:`AnchorHead`'s arguments.
    """

    def __init__(
        self,
        num_classes,
        in_channels,
        pred_kernel_size=3,
        stacked_convs=4,
        conv_cfg=None,
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
        reg_decoded_bbox=True,
        loss_centerness=dict(
            type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0
        ),
        init_cfg=dict(
            type='Normal',
            layer='Conv2d',
            std=0.01,
            override=dict(
                type='Normal', name='atss_cls', std=0.01, bias_prob=0.01
            ),
        ),
        **kwargs,
    ):
        self.pred_kernel_size = pred_kernel_size
        self.stacked_convs = stacked_convs
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        super().__init__(
            num_classes,
            in_channels,
            reg_decoded_bbox=reg_decoded_bbox,
            init_cfg=init_cfg,
            **kwargs,
        )
        self.loss_centerness = build_loss(loss_centerness)

    def _init_layers(self):
        self.relu = nn.ReLU(inplace=True)
        self.cls_convs = self._tower()
        self.reg_convs = self._tower()
        pad = self.pred_kernel_size // 2
        self.atss_cls = nn.Conv2d(
            self.feat_channels,
            self.num_base_priors * self.cls_out_channels,
            self.pred_kernel_size,
            padding=pad,
        )
        self.atss_reg = nn.Conv2d(
            self.feat_channels,
            self.num_base_priors * 4,
            self.pred_kernel_size,
            padding=pad,
        )
        self.atss_centerness = nn.Conv2d(
            self.feat_channels,
            self.num_base_priors * 1,
            self.pred_kernel_size,
            padding=pad,
        )
        self.scales = nn.ModuleList(
            [Scale(1.0) for _ in self.prior_generator.strides]
        )

    def _tower(self):
        return nn.ModuleList(
            [
                ConvModule(
                    self.in_channels if i == 0 else self.feat_channels,
                    self.feat_channels,
                    3,
                    stride=1,
                    padding=1,
                    conv_cfg=self.conv_cfg,
                    norm_cfg=self.norm_cfg,
                )
                for i in range(self.stacked_convs)
            ]
        )

    def forward(self, feats):
        """Per level: class scores (B, A*C, H, W), box deltas (B, A*4, H,
        W) and centerness logits (B, A, H, W), as three lists."""
        outs = [self.forward_single(x, s) for x, s in zip(feats, self.scales)]
        return tuple(map(list, zip(*outs)))

    def forward_single(self, x, scale):
        """One level -> class scores, scaled box deltas, centerness."""
        cls_feat, reg_feat = x, x
        for cls_conv in self.cls_convs:
            cls_feat = cls_conv(cls_feat)
        for reg_conv in self.reg_convs:
            reg_feat = reg_conv(reg_feat)
        bbox_pred = scale(self.atss_reg(reg_feat)).float()
        return (
            self.atss_cls(cls_feat),
            bbox_pred,
            self.atss_centerness(reg_feat),
        )

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
        """Per-level focal, GIoU and centerness losses.

        The classification and centerness losses are averaged over the
        positives of the batch, the box loss over the sum of the positives'
        centerness targets.

        Returns:
            dict[str, list[Tensor]]: ``loss_cls``, ``loss_bbox``,
            ``loss_centerness``, one entry per level.
        """
        featmap_sizes = [score.size()[-2:] for score in cls_scores]
        assert len(featmap_sizes) == self.prior_generator.num_levels
        device = cls_scores[0].device
        anchor_list, valid_flag_list = self.get_anchors(
            featmap_sizes, img_metas, device=device
        )
        targets = self.get_targets(
            anchor_list,
            valid_flag_list,
            gt_bboxes,
            img_metas,
            gt_bboxes_ignore,
            gt_labels,
        )
        if targets is None:
            return None
        anchors, labels, label_weights, bbox_targets, _, num_pos, _ = targets
        num_total_samples = max(
            reduce_mean(
                torch.tensor(num_pos, dtype=torch.float, device=device)
            ).item(),
            1.0,
        )
        per_level = [
            self.loss_single(*args, num_total_samples=num_total_samples)
            for args in zip(
                anchors,
                cls_scores,
                bbox_preds,
                centernesses,
                labels,
                label_weights,
                bbox_targets,
            )
        ]
        losses_cls, losses_bbox, losses_ctr, ctr_sums = map(
            list, zip(*per_level)
        )
        bbox_avg_factor = reduce_mean(sum(ctr_sums)).clamp_(min=1).item()
        losses_bbox = [loss / bbox_avg_factor for loss in losses_bbox]
        return dict(
            loss_cls=losses_cls,
            loss_bbox=losses_bbox,
            loss_centerness=losses_ctr,
        )

    def loss_single(
        self,
        anchors,
        cls_score,
        bbox_pred,
        centerness,
        labels,
        label_weights,
        bbox_targets,
        num_total_samples,
    ):
        """Losses of one level.

        Args:
            anchors (Tensor): (B, N, 4).
            cls_score (Tensor): (B, A*C, H, W).
            bbox_pred (Tensor): (B, A*4, H, W) deltas.
            centerness (Tensor): (B, A, H, W) logits.
            labels, label_weights (Tensor): (B, N).
            bbox_targets (Tensor): (B, N, 4) gt boxes.
            num_total_samples (float): positives of the batch.

        Returns:
            tuple[Tensor]: classification, box (not yet averaged) and
            centerness loss, and the sum of the centerness targets.
        """
        anchors = anchors.reshape(-1, 4)
        cls_score = (
            cls_score.permute(0, 2, 3, 1)
            .reshape(-1, self.cls_out_channels)
            .contiguous()
        )
        bbox_pred = bbox_pred.permute(0, 2, 3, 1).reshape(-1, 4)
        centerness = centerness.permute(0, 2, 3, 1).reshape(-1)
        bbox_targets = bbox_targets.reshape(-1, 4)
        labels = labels.reshape(-1)
        loss_cls = self.loss_cls(
            cls_score,
            labels,
            label_weights.reshape(-1),
            avg_factor=num_total_samples,
        )
        pos_inds = (
            ((labels >= 0) & (labels < self.num_classes)).nonzero().squeeze(1)
        )
        if len(pos_inds) == 0:
            return (
                loss_cls,
                bbox_pred.sum() * 0,
                centerness.sum() * 0,
                bbox_targets.new_tensor(0.0),
            )
        pos_anchors = anchors[pos_inds]
        pos_targets = bbox_targets[pos_inds]
        ctr_targets = self.centerness_target(pos_anchors, pos_targets)
        pos_decoded = self.bbox_coder.decode(pos_anchors, bbox_pred[pos_inds])
        loss_bbox = self.loss_bbox(
            pos_decoded, pos_targets, weight=ctr_targets, avg_factor=1.0
        )
        loss_centerness = self.loss_centerness(
            centerness[pos_inds], ctr_targets, avg_factor=num_total_samples
        )
        return loss_cls, loss_bbox, loss_centerness, ctr_targets.sum()

    @staticmethod
    def centerness_target(anchors, gts):
        """(n,) centerness of the anchor centres within their (n, 4) gt
        boxes: ``sqrt(min(l, r) / max(l, r) * min(t, b) / max(t, b))``."""
        cx = (anchors[:, 2] + anchors[:, 0]) / 2
        cy = (anchors[:, 3] + anchors[:, 1]) / 2
        left_right = torch.stack([cx - gts[:, 0], gts[:, 2] - cx], dim=1)
        top_bottom = torch.stack([cy - gts[:, 1], gts[:, 3] - cy], dim=1)
        centerness = torch.sqrt(
            (left_right.min(dim=-1).values / left_right.max(dim=-1).values)
            * (top_bottom.min(dim=-1).values / top_bottom.max(dim=-1).values)
        )
        assert not torch.isnan(centerness).any()
        return centerness

    def get_targets(
        self,
        anchor_list,
        valid_flag_list,
        gt_bboxes_list,
        img_metas,
        gt_bboxes_ignore_list=None,
        gt_labels_list=None,
        label_channels=1,
        unmap_outputs=True,
    ):
        """ATSS targets of every anchor.

        Returns:
            tuple | None: per-level lists (each (B, N_l[, 4])) of anchors,
            labels, label weights, box targets (gt boxes) and box weights,
            then num_total_pos and num_total_neg; None if an image has no
            anchor inside it.
        """
        assert unmap_outputs, 'only targets for all anchors are supported'
        num_imgs = len(img_metas)
        num_level_anchors = [a.size(0) for a in anchor_list[0]]
        if gt_bboxes_ignore_list is None:
            gt_bboxes_ignore_list = [None] * num_imgs
        if gt_labels_list is None:
            gt_labels_list = [None] * num_imgs
        per_image = [
            self._get_atss_targets_single(
                torch.cat(anchor_list[i]),
                torch.cat(valid_flag_list[i]),
                num_level_anchors,
                gt_bboxes_list[i],
                gt_bboxes_ignore_list[i],
                gt_labels_list[i],
                img_metas[i],
            )
            for i in range(num_imgs)
        ]
        if any(res is None for res in per_image):
            return None
        *per_anchor, pos_inds, neg_inds = zip(*per_image)
        num_total_pos = sum(max(inds.numel(), 1) for inds in pos_inds)
        num_total_neg = sum(max(inds.numel(), 1) for inds in neg_inds)
        levels = tuple(
            images_to_levels(list(t), num_level_anchors) for t in per_anchor
        )
        return levels + (num_total_pos, num_total_neg)

    def _get_atss_targets_single(
        self,
        flat_anchors,
        valid_flags,
        num_level_anchors,
        gt_bboxes,
        gt_bboxes_ignore,
        gt_labels,
        img_meta,
        assigner=None,
        cls_scores=None,
        bbox_preds=None,
    ):
        """Targets of one image's anchors (levels concatenated): anchors,
        labels, label weights, box targets, box weights (all N long), and
        the positive and negative indices among the inside anchors; None
        if no anchor is inside the image.

        ``assigner`` replaces ``self.assigner``; ``cls_scores`` (N, C) and
        ``bbox_preds`` (N, 4) deltas go to a cost-based assigner (DDOD)."""
        inside_flags = anchor_inside_flags(
            flat_anchors,
            valid_flags,
            img_meta['img_shape'][:2],
            self.train_cfg['allowed_border'],
        )
        if not inside_flags.any():
            return None
        anchors = flat_anchors[inside_flags]
        num_level_inside = [
            int(flags.sum())
            for flags in torch.split(inside_flags, num_level_anchors)
        ]
        preds = ()
        if cls_scores is not None:
            decoded = self.bbox_coder.decode(anchors, bbox_preds[inside_flags])
            preds = (cls_scores[inside_flags], decoded)
        assign_result = (assigner or self.assigner).assign(
            anchors,
            num_level_inside,
            gt_bboxes,
            gt_bboxes_ignore,
            gt_labels,
            *preds,
        )
        sampling_result = self.sampler.sample(
            assign_result, anchors, gt_bboxes
        )
        labels, label_weights, bbox_targets, bbox_weights = (
            self._sampled_targets(anchors, sampling_result, gt_labels)
        )
        total = flat_anchors.size(0)
        return (
            unmap(anchors, total, inside_flags),
            unmap(labels, total, inside_flags, fill=self.num_classes),
            unmap(label_weights, total, inside_flags),
            unmap(bbox_targets, total, inside_flags),
            unmap(bbox_weights, total, inside_flags),
            sampling_result.pos_inds,
            sampling_result.neg_inds,
        )
