"""HTC's semantic segmentation branch: FPN levels fused at one level."""

import warnings

import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmcv.runner import BaseModule, auto_fp16, force_fp32

from mmdet.models.builder import HEADS, build_loss


@HEADS.register_module()
class FusedSemanticHead(BaseModule):
    """Each of ``num_ins`` levels goes through a 1x1 ``lateral_convs[i]``,
    is resized (bilinear, corners aligned) to level ``fusion_level`` and
    summed; ``num_convs`` 3x3 ``convs`` follow, then two 1x1 outputs:
    ``conv_logits`` (class scores) and ``conv_embedding`` (the feature the
    RoI heads pool and add to their RoI features).

    Args:
        num_ins (int): number of input levels.
        fusion_level (int): index of the level whose size is kept.
        num_convs (int): 3x3 convs after the fusion.
        in_channels, conv_out_channels (int): channels.
        num_classes (int): semantic classes (183 for COCO-stuff).
        conv_cfg, norm_cfg (dict, optional): conv and norm configs.
        ignore_label, loss_weight: deprecated overrides of ``loss_seg``'s
            ``ignore_index`` and ``loss_weight``.
        loss_seg (dict): per-pixel loss config.
        init_cfg (dict): initialization config.
    """

    def __init__(
        self,
        num_ins,
        fusion_level,
        num_convs=4,
        in_channels=256,
        conv_out_channels=256,
        num_classes=183,
        conv_cfg=None,
        norm_cfg=None,
        ignore_label=None,
        loss_weight=None,
        loss_seg=dict(
            type='CrossEntropyLoss', ignore_index=255, loss_weight=0.2
        ),
        init_cfg=dict(type='Kaiming', override=dict(name='conv_logits')),
    ):
        super().__init__(init_cfg)
        self.num_ins = num_ins
        self.fusion_level = fusion_level
        self.num_convs = num_convs
        self.in_channels = in_channels
        self.conv_out_channels = conv_out_channels
        self.num_classes = num_classes
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.fp16_enabled = False
        norm = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        self.lateral_convs = nn.ModuleList(
            ConvModule(in_channels, in_channels, 1, inplace=False, **norm)
            for _ in range(num_ins)
        )
        self.convs = nn.ModuleList(
            ConvModule(
                in_channels if i == 0 else conv_out_channels,
                conv_out_channels,
                3,
                padding=1,
                **norm,
            )
            for i in range(num_convs)
        )
        self.conv_embedding = ConvModule(
            conv_out_channels, conv_out_channels, 1, **norm
        )
        self.conv_logits = nn.Conv2d(conv_out_channels, num_classes, 1)
        loss_seg = dict(loss_seg)
        if ignore_label or loss_weight:
            warnings.warn(
                'FusedSemanticHead: ignore_label and loss_weight are '
                'deprecated; set ignore_index and loss_weight in loss_seg'
            )
        if ignore_label:
            loss_seg['ignore_index'] = ignore_label
        if loss_weight:
            loss_seg['loss_weight'] = loss_weight
        self.criterion = build_loss(loss_seg)

    @auto_fp16()
    def forward(self, feats):
        """``num_ins`` levels (B, C, H_i, W_i) -> (class logits (B,
        num_classes, H, W), embedding (B, C', H, W)) at level
        ``fusion_level``'s size (H, W)."""
        x = self.lateral_convs[self.fusion_level](feats[self.fusion_level])
        size = tuple(x.shape[-2:])
        for i, feat in enumerate(feats):
            if i == self.fusion_level:
                continue
            feat = F.interpolate(
                feat, size=size, mode='bilinear', align_corners=True
            )
            x = x + self.lateral_convs[i](feat)
        for conv in self.convs:
            x = conv(x)
        return self.conv_logits(x), self.conv_embedding(x)

    @force_fp32(apply_to=('mask_pred',))
    def loss(self, mask_pred, labels):
        """Per-pixel loss of (B, num_classes, H, W) logits against (B, 1, H,
        W) class maps (``ignore_index`` pixels excluded)."""
        return self.criterion(mask_pred, labels.squeeze(1).long())
