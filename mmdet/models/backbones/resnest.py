"""ResNeSt (Zhang et al., 2020): ResNet-D whose 3x3 convs are split
attention convs."""

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_conv_layer, build_norm_layer
from mmcv.runner import BaseModule

from ..builder import BACKBONES
from ..utils.res_layer import ResLayer
from .resnet import ResNetV1d
from .resnext import Bottleneck as _ResNeXtBottleneck


class RSoftmax(nn.Module):
    """(B, groups * radix * C') attention logits -> weights: a softmax over
    the ``radix`` splits of each group (a sigmoid when ``radix`` is 1),
    returned in split-major order (B, radix * groups * C')."""

    def __init__(self, radix, groups):
        super().__init__()
        self.radix = radix
        self.groups = groups

    def forward(self, x):
        batch = x.size(0)
        if self.radix == 1:
            return torch.sigmoid(x)
        x = x.view(batch, self.groups, self.radix, -1).transpose(1, 2)
        return F.softmax(x, dim=1).reshape(batch, -1)


class SplitAttentionConv2d(BaseModule):
    """A grouped conv giving ``radix`` splits of ``channels`` channels,
    mixed with per-channel weights computed from their pooled sum (fc1 ->
    norm1 -> relu -> fc2 -> RSoftmax). (B, in_channels, H, W) ->
    (B, channels, H / stride, W / stride).

    Args (MMDetection's): in_channels, channels, kernel_size, stride,
        padding, dilation, groups, radix, reduction_factor (fc1 has
        ``max(in_channels * radix // reduction_factor, 32)`` channels),
        conv_cfg, norm_cfg, dcn (the conv's config instead of
        ``conv_cfg``), init_cfg.
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
        inter_channels = max(in_channels * radix // reduction_factor, 32)
        self.radix, self.groups, self.channels = radix, groups, channels
        self.dcn, self.with_dcn = dcn, dcn is not None
        dcn = dict(dcn or {})
        if self.with_dcn and not dcn.pop('fallback_on_stride', False):
            conv_cfg = dcn
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
        self.norm0_name, norm0 = build_norm_layer(
            norm_cfg, channels * radix, postfix=0
        )
        self.add_module(self.norm0_name, norm0)
        self.relu = nn.ReLU(inplace=True)
        self.fc1 = nn.Conv2d(channels, inter_channels, 1, groups=groups)
        self.norm1_name, norm1 = build_norm_layer(
            norm_cfg, inter_channels, postfix=1
        )
        self.add_module(self.norm1_name, norm1)
        self.fc2 = nn.Conv2d(
            inter_channels, channels * radix, 1, groups=groups
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
        splits = x.view(batch, self.radix, -1, *x.shape[2:])
        gap = F.adaptive_avg_pool2d(splits.sum(dim=1), 1)
        gap = self.relu(self.norm1(self.fc1(gap)))
        atten = self.rsoftmax(self.fc2(gap))
        atten = atten.view(batch, self.radix, -1, 1, 1)
        return (atten * splits).sum(dim=1).contiguous()


class Bottleneck(_ResNeXtBottleneck):
    """ResNeSt block: a ResNeXt block whose 3x3 conv is a
    ``SplitAttentionConv2d`` (``conv2``, no ``norm2``); with
    ``avg_down_stride`` the stride moves to a 3x3 average pool after it
    (``avd_layer``)."""

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
        # read by _make_middle() while the parent builds
        self.radix = radix
        self.reduction_factor = reduction_factor
        self.avg_down = avg_down_stride
        super().__init__(
            inplanes, planes, groups, base_width, base_channels, **kwargs
        )

    def _make_middle(self, conv):
        width = self.mid_channels()
        self.avg_down_stride = self.avg_down and self.conv2_stride > 1
        self.conv2 = SplitAttentionConv2d(
            width,
            width,
            kernel_size=3,
            stride=1 if self.avg_down_stride else self.conv2_stride,
            padding=self.dilation,
            dilation=self.dilation,
            groups=self.groups,
            radix=self.radix,
            reduction_factor=self.reduction_factor,
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg,
            dcn=self.dcn,
        )
        if self.avg_down_stride:
            self.avd_layer = nn.AvgPool2d(3, self.conv2_stride, padding=1)

    def _middle(self, x):
        out = self.conv2(x)
        return self.avd_layer(out) if self.avg_down_stride else out


@BACKBONES.register_module()
class ResNeSt(ResNetV1d):
    """ResNeSt backbone (ResNet-D stem and shortcuts; depth 50, 101, 152
    or 200).

    Args:
        groups, base_width (int): as ResNeXt's.
        radix (int): splits of each split attention conv.
        reduction_factor (int): channel reduction of its attention.
        avg_down_stride (bool): stride by average pooling after the conv.
        **kwargs: ResNet's other arguments.
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
        # read by make_res_layer() while ResNet.__init__ builds the stages
        self.groups = groups
        self.base_width = base_width
        self.radix = radix
        self.reduction_factor = reduction_factor
        self.avg_down_stride = avg_down_stride
        super().__init__(**kwargs)

    def make_res_layer(self, **kwargs):
        return ResLayer(
            groups=self.groups,
            base_width=self.base_width,
            base_channels=self.base_channels,
            radix=self.radix,
            reduction_factor=self.reduction_factor,
            avg_down_stride=self.avg_down_stride,
            **kwargs,
        )
