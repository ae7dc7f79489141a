"""Res2Net (Gao et al., 2019): the 3x3 conv of each Bottleneck becomes a
hierarchy of ``scales - 1`` narrow 3x3 convs over channel groups."""

import math

import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer

from mmdet.utils.arg_errors import check_arg
from ..builder import BACKBONES
from ..utils.res_layer import conv_builder
from .resnet import Bottleneck as _Bottleneck
from .resnet import ResNet


class Bottle2neck(_Bottleneck):
    """Res2Net block: conv1 gives ``scales`` groups of ``width = floor(
    planes * base_width / base_channels)`` channels; group 0 goes through
    ``convs[0]``, group i (1 <= i < scales - 1) through ``convs[i]`` after
    adding the previous conv's output (``stage_type='normal'``; not added
    in the first block of a stage, ``'stage'``); the last group passes
    unchanged (average-pooled where the block strides). Other arguments
    as ResNet's ``Bottleneck``.
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
        **kwargs,
    ):
        check_arg(
            scales > 1,
            'Bottle2neck',
            f'scales must be > 1 (1 is a ResNet), got {scales}',
        )
        # read by mid_channels() / _make_middle() while the parent builds
        self.scales = scales
        self.width = int(math.floor(planes * base_width / base_channels))
        self.stage_type = stage_type
        super().__init__(inplanes, planes, **kwargs)

    def mid_channels(self):
        return self.width * self.scales

    def _make_middle(self, conv):
        if self.stage_type == 'stage' and self.conv2_stride != 1:
            self.pool = nn.AvgPool2d(3, stride=self.conv2_stride, padding=1)
        self.convs = nn.ModuleList(
            self._make_conv2(conv, self.width) for _ in range(self.scales - 1)
        )
        self.bns = nn.ModuleList(
            build_norm_layer(self.norm_cfg, self.width, postfix=i + 1)[1]
            for i in range(self.scales - 1)
        )

    def _middle(self, x):
        groups = torch.split(x, self.width, dim=1)
        outs, prev = [], None
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            inp = groups[i]
            if prev is not None and self.stage_type != 'stage':
                inp = inp + prev
            prev = self.relu(bn(conv(inp.contiguous())))
            outs.append(prev)
        last = groups[-1]
        if self.stage_type == 'stage' and self.conv2_stride != 1:
            last = self.pool(last)
        return torch.cat(outs + [last], dim=1)


class Res2Layer(nn.Sequential):
    """One Res2Net stage: the first block is ``stage_type='stage'`` and,
    where the shape changes, has an average-pool + 1x1 conv + norm
    shortcut (the pool even at stride 1, as in MMDetection)."""

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
    """Res2Net backbone (depth 50, 101 or 152); always ``style='pytorch'``,
    ``deep_stem`` and ``avg_down``.

    Args:
        scales (int): channel groups per block.
        base_width (int): channels per group in the first stage.
        **kwargs: ResNet's other arguments.
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
        # read by make_res_layer() while ResNet.__init__ builds the stages
        self.scales = scales
        self.base_width = base_width
        super().__init__(
            style='pytorch',
            deep_stem=True,
            avg_down=True,
            pretrained=pretrained,
            init_cfg=init_cfg,
            **kwargs,
        )

    def make_res_layer(self, **kwargs):
        return Res2Layer(
            scales=self.scales,
            base_width=self.base_width,
            base_channels=self.base_channels,
            **kwargs,
        )
