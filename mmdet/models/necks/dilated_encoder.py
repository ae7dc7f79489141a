"""YOLOF's DilatedEncoder (Chen et al., 2021) with MMDetection 2.x names:
1x1 conv + BN (``lateral_conv``/``lateral_norm``), 3x3 conv + BN
(``fpn_conv``/``fpn_norm``), then residual bottlenecks with growing
dilation (``dilated_encoder_blocks.i.conv{1,2,3}``)."""

import torch.nn as nn
from mmcv.cnn import (
    ConvModule,
    caffe2_xavier_init,
    constant_init,
    is_norm,
    normal_init,
)

from mmdet.utils.arg_errors import check_arg
from ..builder import NECKS


class Bottleneck(nn.Module):
    """x + 1x1 -> dilated 3x3 -> 1x1 ConvModules (each conv-norm-ReLU).

    (B, in_channels, H, W) -> same shape.
    """

    def __init__(
        self,
        in_channels,
        mid_channels,
        dilation,
        norm_cfg=dict(type='BN', requires_grad=True),
    ):
        super().__init__()
        self.conv1 = ConvModule(
            in_channels, mid_channels, 1, norm_cfg=norm_cfg
        )
        self.conv2 = ConvModule(
            mid_channels,
            mid_channels,
            3,
            padding=dilation,
            dilation=dilation,
            norm_cfg=norm_cfg,
        )
        self.conv3 = ConvModule(
            mid_channels, in_channels, 1, norm_cfg=norm_cfg
        )

    def forward(self, x):
        return x + self.conv3(self.conv2(self.conv1(x)))


@NECKS.register_module()
class DilatedEncoder(nn.Module):
    """Single-level encoder of the last backbone output.

    Args:
        in_channels (int): channels of the last backbone output.
        out_channels (int): output channels.
        block_mid_channels (int): bottleneck channels.
        num_residual_blocks (int): number of bottlenecks.
        block_dilations (list[int]): dilation of each bottleneck.

    Input: tuple whose last item is (B, in_channels, H, W). Output:
    1-tuple (B, out_channels, H, W).
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        block_mid_channels,
        num_residual_blocks,
        block_dilations,
    ):
        super().__init__()
        check_arg(
            len(block_dilations) >= num_residual_blocks,
            'DilatedEncoder',
            f'block_dilations {block_dilations} needs one dilation per '
            f'residual block ({num_residual_blocks})',
        )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.block_mid_channels = block_mid_channels
        self.num_residual_blocks = num_residual_blocks
        self.block_dilations = block_dilations
        self.lateral_conv = nn.Conv2d(in_channels, out_channels, 1)
        self.lateral_norm = nn.BatchNorm2d(out_channels)
        self.fpn_conv = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.fpn_norm = nn.BatchNorm2d(out_channels)
        self.dilated_encoder_blocks = nn.Sequential(
            *(
                Bottleneck(out_channels, block_mid_channels, d)
                for d in block_dilations[:num_residual_blocks]
            )
        )

    def init_weights(self):
        caffe2_xavier_init(self.lateral_conv)
        caffe2_xavier_init(self.fpn_conv)
        constant_init(self.lateral_norm, 1)
        constant_init(self.fpn_norm, 1)
        for m in self.dilated_encoder_blocks.modules():
            if isinstance(m, nn.Conv2d):
                normal_init(m, mean=0, std=0.01)
            if is_norm(m):
                constant_init(m, 1)

    def forward(self, feature):
        out = self.lateral_norm(self.lateral_conv(feature[-1]))
        out = self.fpn_norm(self.fpn_conv(out))
        return (self.dilated_encoder_blocks(out),)
