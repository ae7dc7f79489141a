"""A ResNet stage (``ResLayer``) and the conv factory its blocks use."""

import torch.nn as nn
from mmcv.cnn import build_conv_layer, build_norm_layer
from mmcv.runner import BaseModule

from mmdet.utils.arg_errors import check_arg


def conv_builder(conv_cfg):
    """A ``conv(in, out, k, stride=1, padding=0, dilation=1, groups=1)``
    factory of bias-free convs built by mmcv from ``conv_cfg`` (None:
    ``nn.Conv2d``)."""

    def conv(
        in_planes,
        out_planes,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
    ):
        return build_conv_layer(
            conv_cfg,
            in_planes,
            out_planes,
            kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
            groups=groups,
            bias=False,
        )

    return conv


class ResLayer(nn.Sequential):
    """One stage: ``num_blocks`` blocks, the first strided and with a
    projection shortcut when the shape changes (``avg_down``: average-pool
    then a stride-1 1x1 conv, the pool there even at stride 1 as in
    MMDetection 2.28, so the conv is ``downsample.1``; else a strided 1x1
    conv). The shortcut conv is
    always built from ``conv_cfg``, never by ``conv``. With
    ``downsample_first=False`` (MMDetection's HourglassNet order) the first
    ``num_blocks - 1`` blocks are ``block(inplanes, inplanes)`` at stride 1
    and the last one strides and projects (as in MMDetection, this suits
    blocks of expansion 1)."""

    def __init__(
        self,
        block,
        inplanes,
        planes,
        num_blocks,
        stride=1,
        avg_down=False,
        conv_cfg=None,
        norm_cfg=dict(type='BN'),
        downsample_first=True,
        **kwargs,
    ):
        self.block = block
        out_planes = planes * block.expansion
        downsample = None
        if stride != 1 or inplanes != out_planes:
            layers = []
            conv_stride = stride
            if avg_down:
                conv_stride = 1
                layers.append(
                    nn.AvgPool2d(
                        kernel_size=stride,
                        stride=stride,
                        ceil_mode=True,
                        count_include_pad=False,
                    )
                )
            layers += [
                conv_builder(conv_cfg)(inplanes, out_planes, 1, conv_stride),
                build_norm_layer(norm_cfg, out_planes)[1],
            ]
            downsample = nn.Sequential(*layers)

        def make(in_ch, mid, **extra):
            return block(
                in_ch, mid, conv_cfg=conv_cfg, norm_cfg=norm_cfg, **extra
            )

        first = dict(stride=stride, downsample=downsample, **kwargs)
        if downsample_first:
            blocks = [make(inplanes, planes, **first)]
            blocks += [
                make(out_planes, planes, **kwargs)
                for _ in range(1, num_blocks)
            ]
        else:
            blocks = [
                make(inplanes, inplanes, **kwargs)
                for _ in range(1, num_blocks)
            ]
            blocks.append(make(inplanes, planes, **first))
        super().__init__(*blocks)


class SimplifiedBasicBlock(BaseModule):
    """SCNet's basic block: conv3x3 -> [norm] -> ReLU -> conv3x3 -> [norm]
    plus the shortcut, with no final ReLU; the convs have a bias only
    without ``norm_cfg``. ``dcn``, ``plugins`` and ``with_cp`` are refused
    (as in MMDetection)."""

    expansion = 1

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
        init_fg=None,
    ):
        super().__init__(init_fg)
        check_arg(
            dcn is None and plugins is None and not with_cp,
            'SimplifiedBasicBlock',
            'dcn, plugins and with_cp are not supported',
        )
        self.with_norm = norm_cfg is not None
        bias = not self.with_norm
        self.conv1 = build_conv_layer(
            conv_cfg,
            inplanes,
            planes,
            3,
            stride=stride,
            padding=dilation,
            dilation=dilation,
            bias=bias,
        )
        self.conv2 = build_conv_layer(
            conv_cfg, planes, planes, 3, padding=1, bias=bias
        )
        if self.with_norm:
            self.norm1_name, norm1 = build_norm_layer(norm_cfg, planes, 1)
            self.norm2_name, norm2 = build_norm_layer(norm_cfg, planes, 2)
            self.add_module(self.norm1_name, norm1)
            self.add_module(self.norm2_name, norm2)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride
        self.dilation = dilation
        self.with_cp = with_cp

    @property
    def norm1(self):
        return getattr(self, self.norm1_name) if self.with_norm else None

    @property
    def norm2(self):
        return getattr(self, self.norm2_name) if self.with_norm else None

    def forward(self, x):
        out = self.conv1(x)
        if self.with_norm:
            out = self.norm1(out)
        out = self.conv2(self.relu(out))
        if self.with_norm:
            out = self.norm2(out)
        identity = x if self.downsample is None else self.downsample(x)
        return out + identity
