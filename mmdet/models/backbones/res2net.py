"""Res2Net (Gao et al., 2019) with MMDetection 2.x's arguments and
checkpoint layout: ResNetV1d's deep stem and average-pool shortcuts
(``downsample.1`` is the conv), and ``Bottle2neck`` blocks whose 3x3 conv is
``scales - 1`` chained convs (``convs.i``, ``bns.i``) on channel splits."""

import math

import torch
import torch.nn as nn
from mmcv.cnn import build_conv_layer, build_norm_layer

from mmdet.utils.arg_errors import check_arg
from ..builder import BACKBONES
from .grouped_bottleneck import BottleneckBase
from .resnet import Bottleneck, ResNet, conv_builder


class Bottle2neck(BottleneckBase):
    """1x1 conv to ``scales`` splits of ``width = floor(planes *
    base_width / base_channels)`` channels; split i > 0 (plus the previous
    split's output, except in the first block of a stage,
    ``stage_type='stage'``) goes through 3x3 conv i-1; the last split is
    passed on (average-pooled when the first block strides); then 1x1 to
    ``planes * 4``.

    Args beyond ``Bottleneck``'s: ``scales`` (> 1), ``base_width``,
    ``base_channels``, ``stage_type`` ('normal' or 'stage').
    """

    expansion = 4

    def __init__(
        self,
        inplanes,
        planes,
        scales=4,
        base_width=26,
        base_channels=64,
        stage_type='normal',
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
    ):
        super(Bottleneck, self).__init__(init_cfg)
        check_arg(
            scales > 1,
            'Bottle2neck',
            f'scales must be > 1 (1 is a ResNet), got {scales}',
        )
        extras = dict(dcn=dcn, plugins=plugins, conv=conv)
        self._init_block(
            inplanes,
            planes,
            stride,
            dilation,
            downsample,
            style,
            with_cp,
            extras,
        )
        width = int(math.floor(planes * (base_width / base_channels)))
        self.width, self.scales, self.stage_type = width, scales, stage_type
        conv1x1 = conv_builder(conv_cfg)
        self.conv1 = conv1x1(inplanes, width * scales, 1, self.conv1_stride)
        self.norm1_name = self._add_norm(norm_cfg, width * scales, 1)
        if stage_type == 'stage' and self.conv2_stride != 1:
            self.pool = nn.AvgPool2d(3, stride=self.conv2_stride, padding=1)
        self.convs = nn.ModuleList(
            self._conv3x3(conv_cfg, width) for _ in range(scales - 1)
        )
        self.bns = nn.ModuleList(
            build_norm_layer(norm_cfg, width, postfix=i + 1)[1]
            for i in range(scales - 1)
        )
        self.conv3 = conv1x1(width * scales, planes * self.expansion, 1)
        self.norm3_name = self._add_norm(norm_cfg, planes * self.expansion, 3)

    def _conv3x3(self, conv_cfg, width):
        return build_conv_layer(
            conv_cfg,
            width,
            width,
            3,
            stride=self.conv2_stride,
            padding=self.dilation,
            dilation=self.dilation,
            bias=False,
        )

    def _residual(self, x):
        out = self.relu(self.norm1(self.conv1(x)))
        splits = torch.split(out, self.width, 1)
        outs = []
        sp = None
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            chained = sp is not None and self.stage_type != 'stage'
            sp = splits[i] + sp if chained else splits[i]
            sp = self.relu(bn(conv(sp.contiguous())))
            outs.append(sp)
        last = splits[-1]
        if hasattr(self, 'pool'):
            last = self.pool(last)
        return self.norm3(self.conv3(torch.cat(outs + [last], 1)))


class Res2Layer(nn.Sequential):
    """One Res2Net stage: ``num_blocks`` Bottle2necks, the first of
    ``stage_type='stage'`` with the stride and an average-pool shortcut
    (``downsample.0`` pool, ``.1`` 1x1 conv, ``.2`` norm)."""

    def __init__(
        self,
        block,
        inplanes,
        planes,
        num_blocks,
        stride=1,
        avg_down=True,
        conv_cfg=None,
        norm_cfg=dict(type='BN'),
        scales=4,
        base_width=26,
        **kwargs,
    ):
        self.block = block
        out_planes = planes * block.expansion
        downsample = None
        if stride != 1 or inplanes != out_planes:
            downsample = nn.Sequential(
                nn.AvgPool2d(
                    stride, stride, ceil_mode=True, count_include_pad=False
                ),
                conv_builder(conv_cfg)(inplanes, out_planes, 1),
                build_norm_layer(norm_cfg, out_planes)[1],
            )
        common = dict(
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            scales=scales,
            base_width=base_width,
            **kwargs,
        )
        blocks = [
            block(
                inplanes,
                planes,
                stride=stride,
                downsample=downsample,
                stage_type='stage',
                **common,
            )
        ]
        blocks += [
            block(out_planes, planes, **common) for _ in range(1, num_blocks)
        ]
        super().__init__(*blocks)


@BACKBONES.register_module()
class Res2Net(ResNet):
    """Res2Net backbone (always ``style='pytorch'``, deep stem and
    average-pool shortcuts, as in MMDetection); outputs as ``ResNet``'s.

    Args (MMDetection 2.x's): ``scales`` (splits per block, default 4),
    ``base_width`` (channels per split at ``base_channels``, default 26);
    ``style``, ``deep_stem``, ``avg_down`` are accepted and overridden;
    the rest are ``ResNet``'s (depth 50, 101 or 152).
    """

    arch_settings = {
        50: (Bottle2neck, (3, 4, 6, 3)),
        101: (Bottle2neck, (3, 4, 23, 3)),
        152: (Bottle2neck, (3, 8, 36, 3)),
    }

    def __init__(
        self,
        scales=4,
        base_width=26,
        style='pytorch',
        deep_stem=True,
        avg_down=True,
        pretrained=None,
        init_cfg=None,
        **kwargs,
    ):
        self.scales, self.base_width = scales, base_width
        super().__init__(
            style='pytorch',
            deep_stem=True,
            avg_down=True,
            pretrained=pretrained,
            init_cfg=init_cfg,
            **kwargs,
        )

    def make_res_layer(self, avg_down=True, **kwargs):
        return Res2Layer(
            scales=self.scales,
            base_width=self.base_width,
            base_channels=self.base_channels,
            **kwargs,
        )
