"""Dynamic Instance Interactive head of Sparse R-CNN (one stage)."""

import torch
import torch.nn as nn
from mmcv.cnn import (
    bias_init_with_prob,
    build_activation_layer,
    build_norm_layer,
)
from mmcv.cnn.bricks.transformer import FFN, MultiheadAttention

from mmdet.core import multi_apply, reduce_mean
from mmdet.models.builder import HEADS, build_loss
from mmdet.models.losses import accuracy
from mmdet.models.utils import build_transformer
from mmdet.utils.arg_errors import InvalidArgumentError
from .bbox_head import BBoxHead


def _fc_ln_relu(channels, num):
    """``num`` times Linear (no bias) -> LayerNorm -> ReLU, flat."""
    layers = nn.ModuleList()
    for _ in range(num):
        layers.append(nn.Linear(channels, channels, bias=False))
        layers.append(build_norm_layer(dict(type='LN'), channels)[1])
        layers.append(build_activation_layer(dict(type='ReLU', inplace=True)))
    return layers


@HEADS.register_module()
class DIIHead(BBoxHead):
    """Self-attention over the proposals of an image, then a dynamic
    convolution of each proposal's RoI feature with weights generated from
    its proposal feature, an FFN, and class / box branches.

    ``forward(roi_feat, proposal_feat)``: (B*P, C, 7, 7) and (B, P, C) ->
    class logits (B, P, K), box deltas (B, P, 4), object features
    (B, P, C) and the attention output (B, P, C).
    """

    def __init__(
        self,
        num_classes=80,
        num_ffn_fcs=2,
        num_heads=8,
        num_cls_fcs=1,
        num_reg_fcs=3,
        feedforward_channels=2048,
        in_channels=256,
        dropout=0.0,
        ffn_act_cfg=dict(type='ReLU', inplace=True),
        dynamic_conv_cfg=dict(
            type='DynamicConv',
            in_channels=256,
            feat_channels=64,
            out_channels=256,
            input_feat_shape=7,
            act_cfg=dict(type='ReLU', inplace=True),
            norm_cfg=dict(type='LN'),
        ),
        loss_iou=dict(type='GIoULoss', loss_weight=2.0),
        init_cfg=None,
        **kwargs,
    ):
        if init_cfg is not None:
            raise InvalidArgumentError(
                'DIIHead: init_cfg must be None (its init is fixed)'
            )
        super().__init__(
            num_classes=num_classes,
            reg_decoded_bbox=True,
            reg_class_agnostic=True,
            init_cfg=init_cfg,
            **kwargs,
        )
        self.loss_iou = build_loss(loss_iou)
        self.in_channels = in_channels
        # an explicit (fresh) dropout_layer: mmcv's default dict is shared,
        # and a MultiheadAttention built with the deprecated `dropout`
        # keyword (Deformable DETR's configs) writes its rate into it
        self.attention = MultiheadAttention(
            in_channels,
            num_heads,
            dropout,
            dropout_layer=dict(type='Dropout', drop_prob=0.0),
        )
        self.attention_norm = build_norm_layer(dict(type='LN'), in_channels)[1]
        self.instance_interactive_conv = build_transformer(dynamic_conv_cfg)
        self.instance_interactive_conv_dropout = nn.Dropout(dropout)
        self.instance_interactive_conv_norm = build_norm_layer(
            dict(type='LN'), in_channels
        )[1]
        self.ffn = FFN(
            in_channels,
            feedforward_channels,
            num_ffn_fcs,
            act_cfg=ffn_act_cfg,
            dropout=dropout,
        )
        self.ffn_norm = build_norm_layer(dict(type='LN'), in_channels)[1]
        self.cls_fcs = _fc_ln_relu(in_channels, num_cls_fcs)
        self.fc_cls = nn.Linear(in_channels, self._num_logits)
        self.reg_fcs = _fc_ln_relu(in_channels, num_reg_fcs)
        self.fc_reg = nn.Linear(in_channels, 4)

    @property
    def _num_logits(self):
        sigmoid = self.loss_cls.use_sigmoid
        return self.num_classes if sigmoid else self.num_classes + 1

    def init_weights(self):
        super().init_weights()
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        if self.loss_cls.use_sigmoid:
            nn.init.constant_(self.fc_cls.bias, bias_init_with_prob(0.01))

    def forward(self, roi_feat, proposal_feat):
        num_imgs, num_proposals = proposal_feat.shape[:2]
        # mmcv's attention is sequence-first: (P, B, C)
        attn = self.attention(proposal_feat.permute(1, 0, 2))
        attn_feats = self.attention_norm(attn).permute(1, 0, 2)
        feat = attn_feats.reshape(-1, self.in_channels)
        interact = self.instance_interactive_conv(feat, roi_feat)
        feat = feat + self.instance_interactive_conv_dropout(interact)
        obj_feat = self.instance_interactive_conv_norm(feat)
        obj_feat = self.ffn_norm(self.ffn(obj_feat))
        cls_feat, reg_feat = obj_feat, obj_feat
        for layer in self.cls_fcs:
            cls_feat = layer(cls_feat)
        for layer in self.reg_fcs:
            reg_feat = layer(reg_feat)
        shape = (num_imgs, num_proposals)
        return (
            self.fc_cls(cls_feat).view(*shape, -1),
            self.fc_reg(reg_feat).view(*shape, 4),
            obj_feat.view(*shape, self.in_channels),
            attn_feats,
        )

    def loss(
        self,
        cls_score,
        bbox_pred,
        labels,
        label_weights,
        bbox_targets,
        bbox_weights,
        imgs_whwh=None,
        reduction_override=None,
        **kwargs,
    ):
        """Focal (or CE) class loss over all proposals; L1 on boxes
        normalized by the image size and GIoU on pixel boxes over the
        matched ones; all averaged over the number of matches."""
        losses = dict()
        pos = (labels >= 0) & (labels < self.num_classes)
        avg_factor = reduce_mean(pos.sum().float())
        if cls_score is not None and cls_score.numel() > 0:
            losses['loss_cls'] = self.loss_cls(
                cls_score,
                labels,
                label_weights,
                avg_factor=avg_factor,
                reduction_override=reduction_override,
            )
            losses['pos_acc'] = accuracy(cls_score[pos], labels[pos])
        if bbox_pred is None:
            return losses
        if not pos.any():
            losses['loss_bbox'] = bbox_pred.sum() * 0
            losses['loss_iou'] = bbox_pred.sum() * 0
            return losses
        pred = bbox_pred.reshape(-1, 4)[pos]
        target, weight = bbox_targets[pos], bbox_weights[pos]
        whwh = imgs_whwh.reshape(-1, 4)[pos]
        losses['loss_bbox'] = self.loss_bbox(
            pred / whwh, target / whwh, weight, avg_factor=avg_factor
        )
        losses['loss_iou'] = self.loss_iou(
            pred, target, weight, avg_factor=avg_factor
        )
        return losses

    def _get_target_single(
        self,
        pos_inds,
        neg_inds,
        pos_bboxes,
        neg_bboxes,
        pos_gt_bboxes,
        pos_gt_labels,
        cfg,
    ):
        """Targets of one image at the proposals' own positions."""
        num = pos_bboxes.size(0) + neg_bboxes.size(0)
        labels = pos_bboxes.new_full(
            (num,), self.num_classes, dtype=torch.long
        )
        label_weights = pos_bboxes.new_zeros(num)
        bbox_targets = pos_bboxes.new_zeros(num, 4)
        bbox_weights = pos_bboxes.new_zeros(num, 4)
        if len(pos_inds) > 0:
            labels[pos_inds] = pos_gt_labels
            label_weights[pos_inds] = (
                1.0 if cfg.pos_weight <= 0 else cfg.pos_weight
            )
            bbox_targets[pos_inds] = pos_gt_bboxes
            bbox_weights[pos_inds] = 1
        if len(neg_inds) > 0:
            label_weights[neg_inds] = 1.0
        return labels, label_weights, bbox_targets, bbox_weights

    def get_targets(
        self,
        sampling_results,
        gt_bboxes,
        gt_labels,
        rcnn_train_cfg,
        concat=True,
    ):
        """(labels, label weights, box targets, box weights), per image or
        concatenated."""
        targets = multi_apply(
            self._get_target_single,
            [r.pos_inds for r in sampling_results],
            [r.neg_inds for r in sampling_results],
            [r.pos_bboxes for r in sampling_results],
            [r.neg_bboxes for r in sampling_results],
            [r.pos_gt_bboxes for r in sampling_results],
            [r.pos_gt_labels for r in sampling_results],
            cfg=rcnn_train_cfg,
        )
        if concat:
            return tuple(torch.cat(t, 0) for t in targets)
        return targets
