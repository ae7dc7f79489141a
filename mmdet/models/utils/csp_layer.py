"""Cross Stage Partial blocks of YOLOv5 / YOLOX (MMDetection 2.x names).

``CSPLayer`` splits its input into two 1x1 projections, runs a stack of
``DarknetBottleneck`` blocks on one (``main_conv`` -> ``blocks``), keeps the
other (``short_conv``) and fuses their concatenation with ``final_conv``.
Every conv is an mmcv ``ConvModule`` (conv + norm + activation), so the
parameters are ``<name>.conv.weight`` and ``<name>.bn.*``.
"""

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, DepthwiseSeparableConvModule
from mmcv.runner import BaseModule

# YOLOv5's BatchNorm settings, MMDetection's default for these blocks.
CSP_NORM_CFG = dict(type='BN', momentum=0.03, eps=0.001)
CSP_ACT_CFG = dict(type='Swish')


def conv_module_type(use_depthwise):
    """The 3x3 conv module class: depthwise-separable or plain."""
    return DepthwiseSeparableConvModule if use_depthwise else ConvModule


class DarknetBottleneck(BaseModule):
    """1x1 conv to ``out_channels * expansion``, 3x3 conv back to
    ``out_channels``, plus the input when ``add_identity`` and the channel
    counts agree. (B, in_channels, H, W) -> (B, out_channels, H, W)."""

    def __init__(
        self,
        in_channels,
        out_channels,
        expansion=0.5,
        add_identity=True,
        use_depthwise=False,
        conv_cfg=None,
        norm_cfg=CSP_NORM_CFG,
        act_cfg=CSP_ACT_CFG,
        init_cfg=None,
    ):
        super().__init__(init_cfg)
        hidden = int(out_channels * expansion)
        cfgs = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.conv1 = ConvModule(in_channels, hidden, 1, **cfgs)
        self.conv2 = conv_module_type(use_depthwise)(
            hidden, out_channels, 3, stride=1, padding=1, **cfgs
        )
        self.add_identity = add_identity and in_channels == out_channels

    def forward(self, x):
        out = self.conv2(self.conv1(x))
        return out + x if self.add_identity else out


class CSPLayer(BaseModule):
    """Cross Stage Partial layer: (B, in_channels, H, W) ->
    (B, out_channels, H, W); both branches have
    ``int(out_channels * expand_ratio)`` channels and ``num_blocks``
    ``DarknetBottleneck`` blocks (expansion 1.0) run on the main one."""

    def __init__(
        self,
        in_channels,
        out_channels,
        expand_ratio=0.5,
        num_blocks=1,
        add_identity=True,
        use_depthwise=False,
        conv_cfg=None,
        norm_cfg=CSP_NORM_CFG,
        act_cfg=CSP_ACT_CFG,
        init_cfg=None,
    ):
        super().__init__(init_cfg)
        mid = int(out_channels * expand_ratio)
        cfgs = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.main_conv = ConvModule(in_channels, mid, 1, **cfgs)
        self.short_conv = ConvModule(in_channels, mid, 1, **cfgs)
        self.final_conv = ConvModule(2 * mid, out_channels, 1, **cfgs)
        self.blocks = nn.Sequential(
            *[
                DarknetBottleneck(
                    mid, mid, 1.0, add_identity, use_depthwise, **cfgs
                )
                for _ in range(num_blocks)
            ]
        )

    def forward(self, x):
        main = self.blocks(self.main_conv(x))
        return self.final_conv(torch.cat((main, self.short_conv(x)), dim=1))
