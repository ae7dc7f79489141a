"""SCNet's mask-side heads (Vu et al., AAAI 2021): the mask and semantic
heads with residual conv stacks, the global context head and the feature
relay head."""

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmcv.runner import BaseModule, auto_fp16, force_fp32

from mmdet.models.builder import HEADS
from mmdet.models.utils.res_layer import ResLayer, SimplifiedBasicBlock
from mmdet.utils.arg_errors import check_arg
from .fcn_mask_head import FCNMaskHead
from .fused_semantic_head import FusedSemanticHead


def res_convs(in_channels, out_channels, num_convs, conv_cfg, norm_cfg):
    """``num_convs // 2`` :class:`SimplifiedBasicBlock` in a ResLayer."""
    return ResLayer(
        SimplifiedBasicBlock,
        in_channels,
        out_channels,
        num_convs // 2,
        conv_cfg=conv_cfg,
        norm_cfg=norm_cfg,
    )


@HEADS.register_module()
class SCNetMaskHead(FCNMaskHead):
    """:class:`FCNMaskHead` whose 3x3 convs become ``num_convs // 2``
    residual blocks (``conv_to_res``)."""

    def __init__(self, conv_to_res=True, **kwargs):
        super().__init__(**kwargs)
        self.conv_to_res = conv_to_res
        if conv_to_res:
            check_arg(
                self.conv_kernel_size == 3,
                'SCNetMaskHead',
                'conv_to_res needs conv_kernel_size=3',
            )
            self.num_res_blocks = self.num_convs // 2
            self.convs = res_convs(
                self.in_channels,
                self.conv_out_channels,
                self.num_convs,
                self.conv_cfg,
                self.norm_cfg,
            )


@HEADS.register_module()
class SCNetSemanticHead(FusedSemanticHead):
    """:class:`FusedSemanticHead` whose 3x3 convs become ``num_convs // 2``
    residual blocks (``conv_to_res``)."""

    def __init__(self, conv_to_res=True, **kwargs):
        super().__init__(**kwargs)
        self.conv_to_res = conv_to_res
        if conv_to_res:
            self.convs = res_convs(
                self.in_channels,
                self.conv_out_channels,
                self.num_convs,
                self.conv_cfg,
                self.norm_cfg,
            )
            self.num_convs = self.num_convs // 2


@HEADS.register_module()
class GlobalContextHead(BaseModule):
    """Coarsest level (B, C, H, W) -> multi-label image logits (B,
    num_classes) and the pooled context (B, C', 1, 1) added to every RoI
    feature of the image.

    Args:
        num_convs (int): 3x3 convs (or ``num_convs // 2`` residual blocks
            with ``conv_to_res``).
        in_channels, conv_out_channels (int): widths.
        num_classes (int): outputs of ``fc``.
        loss_weight (float): of the binary cross entropy.
        conv_cfg, norm_cfg (dict): of the convs.
        conv_to_res (bool): residual blocks instead of plain convs.
        init_cfg (dict): initialization.
    """

    def __init__(
        self,
        num_convs=4,
        in_channels=256,
        conv_out_channels=256,
        num_classes=80,
        loss_weight=1.0,
        conv_cfg=None,
        norm_cfg=None,
        conv_to_res=False,
        init_cfg=dict(type='Normal', std=0.01, override=dict(name='fc')),
    ):
        super().__init__(init_cfg)
        self.num_convs = num_convs
        self.in_channels = in_channels
        self.conv_out_channels = conv_out_channels
        self.num_classes = num_classes
        self.loss_weight = loss_weight
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.conv_to_res = conv_to_res
        self.fp16_enabled = False
        if conv_to_res:
            self.convs = res_convs(
                in_channels, conv_out_channels, num_convs, conv_cfg, norm_cfg
            )
            self.num_convs = num_convs // 2
        else:
            self.convs = nn.ModuleList(
                ConvModule(
                    in_channels if i == 0 else conv_out_channels,
                    conv_out_channels,
                    3,
                    padding=1,
                    conv_cfg=conv_cfg,
                    norm_cfg=norm_cfg,
                )
                for i in range(num_convs)
            )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(conv_out_channels, num_classes)
        self.criterion = nn.BCEWithLogitsLoss()

    @auto_fp16()
    def forward(self, feats):
        x = feats[-1]
        for conv in self.convs:
            x = conv(x)
        x = self.pool(x)
        return self.fc(x.flatten(1)), x

    @force_fp32(apply_to=('pred',))
    def loss(self, pred, labels):
        """Weighted BCE of (B, num_classes) logits against each image's set
        of gt labels."""
        targets = torch.zeros_like(pred)
        for i, lbl in enumerate(labels):
            targets[i, lbl.unique()] = 1.0
        return self.loss_weight * self.criterion(pred, targets)


@HEADS.register_module()
class FeatureRelayHead(BaseModule):
    """(K, in_channels) box-head features -> (K, out_conv_channels,
    s * roi_feat_size, s * roi_feat_size) maps (fc, reshape, bilinear
    ``scale_factor`` s upsampling); None for no RoI."""

    def __init__(
        self,
        in_channels=1024,
        out_conv_channels=256,
        roi_feat_size=7,
        scale_factor=2,
        init_cfg=dict(type='Kaiming', layer='Linear'),
    ):
        super().__init__(init_cfg)
        check_arg(
            isinstance(roi_feat_size, int),
            'FeatureRelayHead',
            'roi_feat_size must be an int',
        )
        self.in_channels = in_channels
        self.out_conv_channels = out_conv_channels
        self.roi_feat_size = roi_feat_size
        self.out_channels = roi_feat_size**2 * out_conv_channels
        self.scale_factor = scale_factor
        self.fp16_enabled = False
        self.fc = nn.Linear(in_channels, self.out_channels)
        self.upsample = nn.Upsample(
            scale_factor=scale_factor, mode='bilinear', align_corners=True
        )

    @auto_fp16()
    def forward(self, x):
        if x.size(0) == 0:
            return None
        size = self.roi_feat_size
        x = self.fc(x).reshape(x.size(0), self.out_conv_channels, size, size)
        return self.upsample(x)
