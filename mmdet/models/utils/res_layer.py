"""A ResNet stage (``ResLayer``) and the conv factory its blocks use."""

import torch.nn as nn
from mmcv.cnn import build_conv_layer, build_norm_layer


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
