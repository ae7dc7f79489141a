"""Mask Scoring R-CNN's MaskIoU head (Huang et al., 2019): predicts the
IoU of each predicted mask with its gt instance."""

import numpy as np
import torch
import torch.nn as nn
from mmcv.cnn import Conv2d, Linear, MaxPool2d
from mmcv.runner import BaseModule, force_fp32
from torch.nn.modules.utils import _pair

from mmdet.models.builder import HEADS, build_loss


@HEADS.register_module()
class MaskIoUHead(BaseModule):
    """RoI mask features (K, C, S, S) and the mask logits of each RoI's
    class (K, 2S, 2S) -> per class mask IoU (K, num_classes).

    The sigmoid mask is max-pooled to S x S and concatenated to the
    features; ``num_convs`` 3x3 convs (the last of stride 2) and
    ``num_fcs`` linear layers (all with ReLU) lead to ``fc_mask_iou``.

    Args:
        num_convs (int), num_fcs (int): layer counts.
        roi_feat_size (int): S.
        in_channels (int): C.
        conv_out_channels (int), fc_out_channels (int): widths.
        num_classes (int): outputs of ``fc_mask_iou``.
        loss_iou (dict): the regression loss (on positive targets).
        init_cfg (list[dict]): initialization.
    """

    def __init__(
        self,
        num_convs=4,
        num_fcs=2,
        roi_feat_size=14,
        in_channels=256,
        conv_out_channels=256,
        fc_out_channels=1024,
        num_classes=80,
        loss_iou=dict(type='MSELoss', loss_weight=0.5),
        init_cfg=[
            dict(type='Kaiming', override=dict(name='convs')),
            dict(type='Caffe2Xavier', override=dict(name='fcs')),
            dict(type='Normal', std=0.01, override=dict(name='fc_mask_iou')),
        ],
    ):
        super().__init__(init_cfg)
        self.in_channels = in_channels
        self.conv_out_channels = conv_out_channels
        self.fc_out_channels = fc_out_channels
        self.num_classes = num_classes
        self.fp16_enabled = False
        self.convs = nn.ModuleList(
            Conv2d(
                in_channels + 1 if i == 0 else conv_out_channels,
                conv_out_channels,
                3,
                stride=2 if i == num_convs - 1 else 1,
                padding=1,
            )
            for i in range(num_convs)
        )
        size = _pair(roi_feat_size)
        pooled_area = (size[0] // 2) * (size[1] // 2)
        self.fcs = nn.ModuleList(
            Linear(
                conv_out_channels * pooled_area if i == 0 else fc_out_channels,
                fc_out_channels,
            )
            for i in range(num_fcs)
        )
        self.fc_mask_iou = Linear(fc_out_channels, num_classes)
        self.relu = nn.ReLU()
        self.max_pool = MaxPool2d(2, 2)
        self.loss_iou = build_loss(loss_iou)

    def forward(self, mask_feat, mask_pred):
        pooled = self.max_pool(mask_pred.sigmoid().unsqueeze(1))
        x = torch.cat((mask_feat, pooled), 1)
        for conv in self.convs:
            x = self.relu(conv(x))
        x = x.flatten(1)
        for fc in self.fcs:
            x = self.relu(fc(x))
        return self.fc_mask_iou(x)

    @force_fp32(apply_to=('mask_iou_pred',))
    def loss(self, mask_iou_pred, mask_iou_targets):
        """``loss_mask_iou`` over the RoIs with a positive target."""
        pos = mask_iou_targets > 0
        if pos.any():
            loss = self.loss_iou(mask_iou_pred[pos], mask_iou_targets[pos])
        else:
            loss = mask_iou_pred.sum() * 0
        return dict(loss_mask_iou=loss)

    @force_fp32(apply_to=('mask_pred',))
    def get_targets(
        self, sampling_results, gt_masks, mask_pred, mask_targets, cfg
    ):
        """IoU of each positive's binarized predicted mask with its whole
        gt instance: (num_pos,).

        The overlap is counted inside the RoI (on the mask grid); the gt
        area is the in-RoI gt area divided by the fraction of the gt
        instance (original mask pixels) that lies inside the RoI.

        Args:
            sampling_results (list[SamplingResult]): per image.
            gt_masks (list[BitmapMasks | PolygonMasks]): per image.
            mask_pred (Tensor): (num_pos, h, w) logits of the gt class.
            mask_targets (Tensor): (num_pos, h, w) binary in-RoI targets.
            cfg (dict): with ``mask_thr_binary``.
        """
        ratios = torch.cat(
            [
                self._get_area_ratio(
                    res.pos_bboxes, res.pos_assigned_gt_inds, masks
                )
                for res, masks in zip(sampling_results, gt_masks)
            ]
        )
        assert mask_targets.size(0) == ratios.size(0)
        pred = (mask_pred > cfg.mask_thr_binary).float()
        pred_areas = pred.sum((-1, -2))
        overlaps = (pred * mask_targets).sum((-1, -2))
        gt_areas = mask_targets.sum((-1, -2)) / (ratios + 1e-7)
        return overlaps / (pred_areas + gt_areas - overlaps)

    def _get_area_ratio(self, pos_proposals, pos_assigned_gt_inds, gt_masks):
        """(num_pos,) fraction of each assigned gt instance's area inside
        its proposal (the box cut to integer pixels)."""
        if pos_proposals.size(0) == 0:
            return pos_proposals.new_zeros((0,))
        boxes = pos_proposals.cpu().numpy().astype(np.int32)
        inds = pos_assigned_gt_inds.cpu().numpy()
        full_areas = gt_masks.areas
        ratios = [
            gt_masks[int(i)].crop(box).areas[0] / (full_areas[i] + 1e-7)
            for box, i in zip(boxes, inds)
        ]
        return pos_proposals.new_tensor(np.stack(ratios), dtype=torch.float32)

    @force_fp32(apply_to=('mask_iou_pred',))
    def get_mask_scores(self, mask_iou_pred, det_bboxes, det_labels):
        """Per class arrays of mask scores: predicted IoU of the detected
        class times the box score."""
        inds = torch.arange(det_labels.size(0), device=det_labels.device)
        scores = mask_iou_pred[inds, det_labels] * det_bboxes[inds, -1]
        scores = scores.detach().cpu().numpy()
        labels = det_labels.cpu().numpy()
        return [scores[labels == c] for c in range(self.num_classes)]
