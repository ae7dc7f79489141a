"""QueryInst's mask head: an FCN mask head whose input is first mixed with
the proposal's feature by a dynamic convolution."""

import torch
import torch.nn as nn
from mmcv.runner import force_fp32

from mmdet.core import reduce_mean
from mmdet.models.builder import HEADS
from mmdet.models.utils import build_transformer
from mmdet.utils.arg_errors import InvalidArgumentError
from .fcn_mask_head import FCNMaskHead


@HEADS.register_module()
class DynamicMaskHead(FCNMaskHead):
    """``forward(roi_feat, proposal_feat)``: (K, C, S, S) RoI features and
    (K, C) proposal features -> (K, num_classes, 2S, 2S) mask logits. The
    loss (Dice by default) is on the sigmoid of each RoI's class channel,
    averaged over the positives."""

    def __init__(
        self,
        num_convs=4,
        roi_feat_size=14,
        in_channels=256,
        conv_kernel_size=3,
        conv_out_channels=256,
        num_classes=80,
        class_agnostic=False,
        upsample_cfg=dict(type='deconv', scale_factor=2),
        conv_cfg=None,
        norm_cfg=None,
        dynamic_conv_cfg=dict(
            type='DynamicConv',
            in_channels=256,
            feat_channels=64,
            out_channels=256,
            input_feat_shape=14,
            with_proj=False,
            act_cfg=dict(type='ReLU', inplace=True),
            norm_cfg=dict(type='LN'),
        ),
        loss_mask=dict(type='DiceLoss', loss_weight=8.0),
        **kwargs,
    ):
        if class_agnostic:
            raise InvalidArgumentError(
                'DynamicMaskHead: class_agnostic must be False'
            )
        super().__init__(
            num_convs=num_convs,
            roi_feat_size=roi_feat_size,
            in_channels=in_channels,
            conv_kernel_size=conv_kernel_size,
            conv_out_channels=conv_out_channels,
            num_classes=num_classes,
            class_agnostic=class_agnostic,
            upsample_cfg=upsample_cfg,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            loss_mask=loss_mask,
            **kwargs,
        )
        self.instance_interactive_conv = build_transformer(dynamic_conv_cfg)

    def init_weights(self):
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        nn.init.constant_(self.conv_logits.bias, 0.0)

    def forward(self, roi_feat, proposal_feat):
        proposal_feat = proposal_feat.reshape(-1, self.in_channels)
        mixed = self.instance_interactive_conv(proposal_feat, roi_feat)
        # (K, S*S, C) -> (K, C, S, S)
        x = mixed.permute(0, 2, 1).reshape(roi_feat.size())
        return super().forward(x)

    @force_fp32(apply_to=('mask_pred',))
    def loss(self, mask_pred, mask_targets, labels):
        """``loss_mask`` of (P, K, h, w) logits against (P, h, w) targets."""
        if mask_pred.size(0) == 0:
            return dict(loss_mask=mask_pred.sum())
        num_pos = labels.new_ones(labels.size()).float().sum()
        avg_factor = torch.clamp(reduce_mean(num_pos), min=1.0).item()
        own_class = mask_pred[torch.arange(len(labels)), labels].sigmoid()
        return dict(
            loss_mask=self.loss_mask(
                own_class, mask_targets, avg_factor=avg_factor
            )
        )
