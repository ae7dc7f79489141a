"""Bottleneck variants: ``BottleneckBase`` (what Res2Net's and ResNeSt's
blocks share) and ResNeXt's ``GroupedBottleneck`` (a grouped 3x3 conv), the
block of RegNet and the base of ResNeSt's. Module names as ResNet's
``Bottleneck``: ``conv1``, ``bn1``, ``conv2``, ``bn2``, ``conv3``,
``bn3``."""

import math

import torch.nn as nn
from mmcv.cnn import build_conv_layer

from mmdet.utils.arg_errors import check_arg, unsupported
from .resnet import Bottleneck, conv_builder


def bottleneck_width(planes, groups, base_width, base_channels):
    """Channels of the 3x3 conv: ``planes`` without groups, else
    ``floor(planes * base_width / base_channels) * groups`` (evaluated in
    this order, as MMDetection does, so float rounding agrees)."""
    if groups == 1:
        return planes
    return math.floor(planes * (base_width / base_channels)) * groups


class BottleneckBase(Bottleneck):
    """A ``Bottleneck`` whose subclass builds the layers: ``_init_block``
    checks and stores what every bottleneck has (strides, shortcut),
    without ``Bottleneck.__init__``'s convs of width ``planes``."""

    def _init_block(
        self,
        inplanes,
        planes,
        stride,
        dilation,
        downsample,
        style,
        with_cp,
        extras,
    ):
        """``extras``: the ``dcn``, ``plugins`` and ``conv`` arguments (only
        None)."""
        name = type(self).__name__
        check_arg(
            style in ('pytorch', 'caffe'),
            name,
            f"style must be 'pytorch' or 'caffe', got {style!r}",
        )
        for key, value in extras.items():
            if value is not None:
                raise unsupported(name, key, value, f'Use {key}=None.')
        self.inplanes, self.planes = inplanes, planes
        self.stride, self.dilation, self.style = stride, dilation, style
        self.with_cp = with_cp
        self.conv1_stride = stride if style == 'caffe' else 1
        self.conv2_stride = 1 if style == 'caffe' else stride
        self.downsample = downsample
        self.relu = nn.ReLU(inplace=True)


class GroupedBottleneck(BottleneckBase):
    """1x1 -> grouped 3x3 -> 1x1 (to ``planes * expansion``).

    Args beyond ``Bottleneck``'s: ``groups`` of the 3x3 conv, and
    ``base_width`` / ``base_channels``, which set its width (see
    ``bottleneck_width``). Subclasses replace the 3x3 conv by overriding
    ``_make_conv2``.
    """

    def __init__(
        self,
        inplanes,
        planes,
        stride=1,
        dilation=1,
        downsample=None,
        style='pytorch',
        with_cp=False,
        conv_cfg=None,
        norm_cfg=dict(type='BN'),
        dcn=None,
        plugins=None,
        init_cfg=None,
        conv=None,
        groups=1,
        base_width=4,
        base_channels=64,
    ):
        super(Bottleneck, self).__init__(init_cfg)
        self._init_block(
            inplanes,
            planes,
            stride,
            dilation,
            downsample,
            style,
            with_cp,
            dict(dcn=dcn, plugins=plugins, conv=conv),
        )
        width = bottleneck_width(planes, groups, base_width, base_channels)
        self.width, self.groups = width, groups
        conv = conv_builder(conv_cfg)
        self.conv1 = conv(inplanes, width, 1, self.conv1_stride)
        self.norm1_name = self._add_norm(norm_cfg, width, 1)
        self._make_conv2(conv_cfg, norm_cfg)
        self.conv3 = conv(width, planes * self.expansion, 1)
        self.norm3_name = self._add_norm(norm_cfg, planes * self.expansion, 3)

    def _make_conv2(self, conv_cfg, norm_cfg):
        self.conv2 = build_conv_layer(
            conv_cfg,
            self.width,
            self.width,
            3,
            stride=self.conv2_stride,
            padding=self.dilation,
            dilation=self.dilation,
            groups=self.groups,
            bias=False,
        )
        self.norm2_name = self._add_norm(norm_cfg, self.width, 2)
