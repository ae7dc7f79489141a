"""ResNeSt (Zhang et al., 2020) with MMDetection 2.x's arguments and
checkpoint layout: ResNetV1d's deep stem and average-pool shortcuts, and
bottlenecks whose 3x3 conv is a ``SplitAttentionConv2d`` (``conv2.conv``,
``conv2.bn0``, ``conv2.fc1``, ``conv2.bn1``, ``conv2.fc2``)."""

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_conv_layer, build_norm_layer
from mmcv.runner import BaseModule

from mmdet.utils.arg_errors import unsupported
from ..builder import BACKBONES
from .grouped_bottleneck import GroupedBottleneck
from .resnet import ResNet


class RSoftmax(nn.Module):
    """Softmax over the ``radix`` splits within each group (sigmoid when
    ``radix`` is 1). (B, groups * radix * C') -> same shape, split-major."""

    def __init__(self, radix, groups):
        super().__init__()
        self.radix, self.groups = radix, groups

    def forward(self, x):
        batch = x.size(0)
        if self.radix == 1:
            return torch.sigmoid(x)
        x = x.view(batch, self.groups, self.radix, -1).transpose(1, 2)
        return F.softmax(x, dim=1).reshape(batch, -1)


class SplitAttentionConv2d(BaseModule):
    """Split attention: a conv to ``radix`` splits of ``channels`` channels
    each, then a per-channel softmax over the splits, computed from their
    pooled sum (fc1 -> norm -> ReLU -> fc2), weights their sum.

    (B, in_channels, H, W) -> (B, channels, H / stride, W / stride).
    """

    def __init__(
        self,
        in_channels,
        channels,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
        radix=2,
        reduction_factor=4,
        conv_cfg=None,
        norm_cfg=dict(type='BN'),
        dcn=None,
        init_cfg=None,
    ):
        super().__init__(init_cfg)
        if dcn is not None:
            raise unsupported(
                'SplitAttentionConv2d', 'dcn', dcn, 'Use dcn=None.'
            )
        inter_channels = max(in_channels * radix // reduction_factor, 32)
        self.radix, self.groups, self.channels = radix, groups, channels
        self.conv = build_conv_layer(
            conv_cfg,
            in_channels,
            channels * radix,
            kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
            groups=groups * radix,
            bias=False,
        )
        # the original numbers this norm 0
        self.norm0_name, norm0 = build_norm_layer(
            norm_cfg, channels * radix, postfix=0
        )
        self.add_module(self.norm0_name, norm0)
        self.relu = nn.ReLU(inplace=True)
        self.fc1 = build_conv_layer(
            None, channels, inter_channels, 1, groups=groups
        )
        self.norm1_name, norm1 = build_norm_layer(
            norm_cfg, inter_channels, postfix=1
        )
        self.add_module(self.norm1_name, norm1)
        self.fc2 = build_conv_layer(
            None, inter_channels, channels * radix, 1, groups=groups
        )
        self.rsoftmax = RSoftmax(radix, groups)

    @property
    def norm0(self):
        return getattr(self, self.norm0_name)

    @property
    def norm1(self):
        return getattr(self, self.norm1_name)

    def forward(self, x):
        x = self.relu(self.norm0(self.conv(x)))
        batch = x.size(0)
        if self.radix > 1:
            splits = x.view(batch, self.radix, -1, *x.shape[2:])
            gap = splits.sum(dim=1)
        else:
            gap = x
        gap = F.adaptive_avg_pool2d(gap, 1)
        gap = self.relu(self.norm1(self.fc1(gap)))
        atten = self.rsoftmax(self.fc2(gap)).view(batch, -1, 1, 1)
        if self.radix == 1:
            return atten * x
        attens = atten.view(batch, self.radix, -1, 1, 1)
        return torch.sum(attens * splits, dim=1).contiguous()


class Bottleneck(GroupedBottleneck):
    """ResNeSt's bottleneck: the grouped 3x3 conv is a split attention conv
    (with its own norm, so no ``bn2``); ``avg_down_stride`` moves the
    stride to a 3x3 average pool after it (``avd_layer``).

    Args beyond ``GroupedBottleneck``'s: ``radix``, ``reduction_factor``
    (of ``SplitAttentionConv2d``) and ``avg_down_stride``.
    """

    expansion = 4

    def __init__(
        self,
        inplanes,
        planes,
        groups=1,
        base_width=4,
        base_channels=64,
        radix=2,
        reduction_factor=4,
        avg_down_stride=True,
        **kwargs,
    ):
        # read by _make_conv2, which the base constructor calls
        self.radix, self.reduction_factor = radix, reduction_factor
        self.avg_down_stride = avg_down_stride
        super().__init__(
            inplanes,
            planes,
            groups=groups,
            base_width=base_width,
            base_channels=base_channels,
            **kwargs,
        )

    def _make_conv2(self, conv_cfg, norm_cfg):
        self.avg_down_stride = self.avg_down_stride and self.conv2_stride > 1
        self.conv2 = SplitAttentionConv2d(
            self.width,
            self.width,
            kernel_size=3,
            stride=1 if self.avg_down_stride else self.conv2_stride,
            padding=self.dilation,
            dilation=self.dilation,
            groups=self.groups,
            radix=self.radix,
            reduction_factor=self.reduction_factor,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
        )
        if self.avg_down_stride:
            self.avd_layer = nn.AvgPool2d(3, self.conv2_stride, padding=1)

    def _residual(self, x):
        out = self.relu(self.norm1(self.conv1(x)))
        out = self.conv2(out)
        if self.avg_down_stride:
            out = self.avd_layer(out)
        return self.norm3(self.conv3(out))


@BACKBONES.register_module()
class ResNeSt(ResNet):
    """ResNeSt backbone: ResNetV1d (``deep_stem=True``, ``avg_down=True``)
    with split-attention bottlenecks; outputs as ``ResNet``'s.

    Args (MMDetection 2.x's): ``groups``, ``base_width`` (of the 3x3
    conv, as ResNeXt's), ``radix``, ``reduction_factor``,
    ``avg_down_stride`` (see ``Bottleneck``); the rest are ``ResNet``'s
    (depth 50, 101, 152 or 200).
    """

    arch_settings = {
        50: (Bottleneck, (3, 4, 6, 3)),
        101: (Bottleneck, (3, 4, 23, 3)),
        152: (Bottleneck, (3, 8, 36, 3)),
        200: (Bottleneck, (3, 24, 36, 3)),
    }

    def __init__(
        self,
        groups=1,
        base_width=4,
        radix=2,
        reduction_factor=4,
        avg_down_stride=True,
        **kwargs,
    ):
        self.groups, self.base_width = groups, base_width
        self.radix, self.reduction_factor = radix, reduction_factor
        self.avg_down_stride = avg_down_stride
        kwargs.setdefault('deep_stem', True)
        kwargs.setdefault('avg_down', True)
        super().__init__(**kwargs)

    def make_res_layer(self, **kwargs):
        return super().make_res_layer(
            groups=self.groups,
            base_width=self.base_width,
            base_channels=self.base_channels,
            radix=self.radix,
            reduction_factor=self.reduction_factor,
            avg_down_stride=self.avg_down_stride,
            **kwargs,
        )
