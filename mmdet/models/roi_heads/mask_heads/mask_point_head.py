"""PointRend's point head: classifies sampled points from their fine
(FPN) and coarse (mask logits) features with shared 1x1 convs."""

import torch
from mmcv.cnn import ConvModule
from mmcv.runner import BaseModule
from torch import nn

from mmdet.models.builder import HEADS, build_loss
from mmdet.models.utils.point_sample import (
    get_uncertain_point_coords_with_randomness,
    get_uncertainty,
    point_sample,
    rel_roi_point_to_rel_img_point,
)


@HEADS.register_module()
class MaskPointHead(BaseModule):
    """Fine (K, in_channels, P) and coarse (K, num_classes, P) point
    features -> (K, num_classes or 1, P) point logits.

    Args:
        num_classes (int): classes.
        num_fcs (int): 1x1 ``ConvModule`` layers (``fcs``).
        in_channels (int): fine feature channels.
        fc_channels (int): width of ``fcs``.
        class_agnostic (bool): one output channel.
        coarse_pred_each_layer (bool): append the coarse features to the
            input of every layer, not only the first.
        conv_cfg, norm_cfg, act_cfg (dict): of ``fcs``.
        loss_point (dict): per-point loss.
        init_cfg (dict): initialization.
    """

    def __init__(
        self,
        num_classes,
        num_fcs=3,
        in_channels=256,
        fc_channels=256,
        class_agnostic=False,
        coarse_pred_each_layer=True,
        conv_cfg=dict(type='Conv1d'),
        norm_cfg=None,
        act_cfg=dict(type='ReLU'),
        loss_point=dict(
            type='CrossEntropyLoss', use_mask=True, loss_weight=1.0
        ),
        init_cfg=dict(
            type='Normal', std=0.001, override=dict(name='fc_logits')
        ),
    ):
        super().__init__(init_cfg)
        self.num_fcs = num_fcs
        self.in_channels = in_channels
        self.fc_channels = fc_channels
        self.num_classes = num_classes
        self.class_agnostic = class_agnostic
        self.coarse_pred_each_layer = coarse_pred_each_layer
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.loss_point = build_loss(loss_point)
        extra = num_classes if coarse_pred_each_layer else 0
        self.fcs = nn.ModuleList()
        in_ch = in_channels + num_classes
        for _ in range(num_fcs):
            self.fcs.append(
                ConvModule(
                    in_ch,
                    fc_channels,
                    kernel_size=1,
                    conv_cfg=conv_cfg,
                    norm_cfg=norm_cfg,
                    act_cfg=act_cfg,
                )
            )
            in_ch = fc_channels + extra
        out_channels = 1 if class_agnostic else num_classes
        self.fc_logits = nn.Conv1d(in_ch, out_channels, kernel_size=1)

    def forward(self, fine_grained_feats, coarse_feats):
        x = torch.cat([fine_grained_feats, coarse_feats], dim=1)
        for fc in self.fcs:
            x = fc(x)
            if self.coarse_pred_each_layer:
                x = torch.cat([x, coarse_feats], dim=1)
        return self.fc_logits(x)

    def get_targets(
        self, rois, rel_roi_points, sampling_results, gt_masks, cfg
    ):
        """(K, P) gt mask values (bilinear) at the RoI points of the
        positives of all images, in image order."""
        targets = []
        for i, res in enumerate(sampling_results):
            inds = rois[:, 0] == i
            targets.append(
                self._get_target_single(
                    rois[inds],
                    rel_roi_points[inds],
                    res.pos_assigned_gt_inds,
                    gt_masks[i],
                    cfg,
                )
            )
        return torch.cat(targets) if targets else targets

    def _get_target_single(
        self, rois, rel_roi_points, pos_assigned_gt_inds, gt_masks, cfg
    ):
        if rois.size(0) == 0:
            return rois.new_zeros((0, cfg['num_points']))
        masks = gt_masks.to_tensor(rois.dtype, rois.device)
        masks = masks.index_select(0, pos_assigned_gt_inds).unsqueeze(1)
        points = rel_roi_point_to_rel_img_point(rois, rel_roi_points, masks)
        return point_sample(masks, points).squeeze(1)

    def loss(self, point_pred, point_targets, labels):
        """``loss_point`` of (K, C, P) logits against (K, P) targets, on
        each RoI's class channel."""
        if self.class_agnostic:
            labels = torch.zeros_like(labels)
        return dict(
            loss_point=self.loss_point(point_pred, point_targets, labels)
        )

    def get_roi_rel_points_train(self, mask_pred, labels, cfg):
        """(K, num_points, 2) RoI-relative training points, biased to the
        uncertain ones (``cfg``: num_points, oversample_ratio,
        importance_sample_ratio)."""
        return get_uncertain_point_coords_with_randomness(
            mask_pred,
            labels,
            cfg['num_points'],
            cfg['oversample_ratio'],
            cfg['importance_sample_ratio'],
        )

    def get_roi_rel_points_test(self, mask_pred, pred_label, cfg):
        """The ``cfg.subdivision_num_points`` most uncertain cells of the
        (K, C, h, w) logits: (K, P) flat indices and (K, P, 2) cell centres
        in [0, 1]."""
        uncertainty = get_uncertainty(mask_pred, pred_label)
        num_rois, _, height, width = uncertainty.shape
        area = int(height * width)
        num_points = min(area, cfg['subdivision_num_points'])
        point_indices = uncertainty.view(num_rois, area).topk(
            num_points, dim=1
        )[1]
        h_step, w_step = 1.0 / height, 1.0 / width
        xs = w_step / 2.0 + (point_indices % width).float() * w_step
        ys = h_step / 2.0 + (point_indices // width).float() * h_step
        return point_indices, torch.stack([xs, ys], dim=2)
