"""MobileNetV2 in MMDetection 2.28's own layout: ``conv1`` (stem),
``layer1..7`` of ``InvertedResidual`` blocks (``expand_conv``,
``depthwise_conv``, ``linear_conv`` ConvModules) and ``conv2`` (the last
1x1 conv). ``MobileNetV2`` builds it when given MMDetection's arguments."""

import torch.nn as nn
from mmcv.cnn import ConvModule

from mmdet.utils.arg_errors import check_arg
from ..utils.inverted_residual import InvertedResidual
from ..utils.make_divisible import make_divisible
from .base_backbone import ClassificationBackbone

# (expand ratio, output channels, blocks, first stride) of layer1..7
MMDET_ARCH = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


class MMDetMobileNetV2(ClassificationBackbone):
    """MobileNetV2, MMDetection 2.28's layout and arguments.

    Args:
        widen_factor (float): channel multiplier (rounded to multiples of
            8; ``conv2`` has ``int(1280 * widen_factor)`` channels above 1).
        out_indices (Sequence[int]): 0..6 = the outputs of layer1..7 (strides
            2, 4, 8, 16, 16, 32, 32), 7 = of ``conv2``.
        frozen_stages (int): -1 nothing, 0 ``conv1``, k also layer1..k.
        conv_cfg, norm_cfg, act_cfg (dict): for every ConvModule.
        norm_eval (bool): keep BatchNorms in eval mode while training.
        with_cp (bool): activation checkpointing in each block.
        pretrained, init_cfg: as ``ResNet``'s.
    """

    arch_settings = MMDET_ARCH

    def __init__(
        self,
        widen_factor=1.0,
        out_indices=(1, 2, 4, 7),
        frozen_stages=-1,
        conv_cfg=None,
        norm_cfg=dict(type='BN'),
        act_cfg=dict(type='ReLU6'),
        norm_eval=False,
        with_cp=False,
        pretrained=None,
        init_cfg=None,
    ):
        super().__init__(frozen_stages, norm_eval, pretrained, init_cfg)
        check_arg(
            set(out_indices) <= set(range(8)),
            'MobileNetV2',
            f'out_indices must lie within 0..7, got {tuple(out_indices)}',
        )
        check_arg(
            -1 <= frozen_stages <= 7,
            'MobileNetV2',
            f'frozen_stages must be within -1..7, got {frozen_stages}',
        )
        self.widen_factor = widen_factor
        self.out_indices = tuple(out_indices)
        self.conv_cfg, self.norm_cfg = conv_cfg, norm_cfg
        self.act_cfg, self.with_cp = act_cfg, with_cp
        channels = make_divisible(32 * widen_factor, 8)
        self.conv1 = self._conv(3, channels, 3, stride=2, padding=1)
        self.layers, widths = [], []
        for i, (t, c, n, s) in enumerate(self.arch_settings):
            out = make_divisible(c * widen_factor, 8)
            self.add_module(
                f'layer{i + 1}', self._make_layer(channels, out, n, s, t)
            )
            self.layers.append(f'layer{i + 1}')
            channels = out
            widths.append(out)
        self.out_channel = (
            int(1280 * widen_factor) if widen_factor > 1.0 else 1280
        )
        self.conv2 = self._conv(channels, self.out_channel, 1)
        self.layers.append('conv2')
        widths.append(self.out_channel)
        self.out_channels = [widths[i] for i in self.out_indices]
        self._post_init()

    def _conv(self, in_ch, out_ch, kernel, stride=1, padding=0):
        return ConvModule(
            in_ch,
            out_ch,
            kernel,
            stride=stride,
            padding=padding,
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg,
        )

    def _make_layer(self, in_ch, out_ch, num_blocks, stride, expand_ratio):
        blocks = []
        for i in range(num_blocks):
            blocks.append(
                InvertedResidual(
                    in_ch,
                    out_ch,
                    mid_channels=int(round(in_ch * expand_ratio)),
                    stride=stride if i == 0 else 1,
                    with_expand_conv=expand_ratio != 1,
                    conv_cfg=self.conv_cfg,
                    norm_cfg=self.norm_cfg,
                    act_cfg=self.act_cfg,
                    with_cp=self.with_cp,
                )
            )
            in_ch = out_ch
        return nn.Sequential(*blocks)

    def _frozen_modules(self):
        if self.frozen_stages < 0:
            return []
        return [self.conv1] + [
            getattr(self, f'layer{i}')
            for i in range(1, self.frozen_stages + 1)
        ]

    def forward(self, x):
        """(B, 3, H, W) -> tuple of the selected outputs."""
        x = self.conv1(x)
        outs = []
        for i, name in enumerate(self.layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
