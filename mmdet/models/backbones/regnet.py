"""RegNetX (Radosavovic et al., 2020) with MMDetection 2.x's arguments and
checkpoint layout (``conv1``/``bn1`` stem, ``layer1..4`` of grouped
bottlenecks of expansion 1)."""

import itertools

import numpy as np
import torch.nn as nn
from mmcv.cnn import build_norm_layer

from mmdet.utils.arg_errors import check_arg
from ..builder import BACKBONES
from ..utils.res_layer import conv_builder
from .base_backbone import ClassificationBackbone
from .resnet import ResNet
from .resnext import Bottleneck


class RegNetBottleneck(Bottleneck):
    """RegNet's block: ResNeXt's grouped bottleneck without expansion."""

    expansion = 1


def regnet_block_widths(w0, wa, wm, depth, divisor=8):
    """Per-block widths of the quantised linear rule: ``w0 + wa * j``
    snapped to ``w0 * wm**k`` (nearest k in log space), then to a multiple
    of ``divisor`` (numpy, so the rounding equals MMDetection's)."""
    check_arg(
        wa >= 0 and w0 > 0 and wm > 1 and w0 % divisor == 0,
        'RegNet',
        f'arch needs wa >= 0, w0 > 0 and a multiple of {divisor}, wm > 1; '
        f'got w0={w0}, wa={wa}, wm={wm}',
    )
    continuous = np.arange(depth) * wa + w0
    ks = np.round(np.log(continuous / w0) / np.log(wm))
    widths = w0 * np.power(wm, ks)
    widths = np.round(np.divide(widths, divisor)) * divisor
    return widths.astype(int).tolist()


def regnet_stages(arch):
    """``(stage_widths, stage_blocks, stage_groups)`` of an arch dict
    (w0, wa, wm, depth, group_w, bot_mul): runs of equal block width form
    the stages, then width and group width are made compatible."""
    widths = regnet_block_widths(
        arch['w0'], arch['wa'], arch['wm'], arch['depth']
    )
    runs = [(w, len(list(g))) for w, g in itertools.groupby(widths)]
    bot_mul = arch['bot_mul']
    stage_widths, stage_blocks, group_widths = [], [], []
    for width, blocks in runs:
        bottleneck = int(width * bot_mul)
        group_w = min(arch['group_w'], bottleneck)
        bottleneck = int(round(bottleneck / group_w) * group_w)
        stage_widths.append(int(bottleneck / bot_mul))
        stage_blocks.append(blocks)
        group_widths.append(group_w)
    return stage_widths, stage_blocks, group_widths


@BACKBONES.register_module()
class RegNet(ResNet):
    """RegNet backbone returning the outputs of ``layer{i+1}`` for i in
    ``out_indices`` (strides 4, 8, 16, 32; channels ``stage_widths``).

    Args (MMDetection 2.x's, same defaults):
        arch (str | dict): one of ``arch_settings`` ('regnetx_400mf' ...
            'regnetx_12gf') or a dict with w0, wa, wm, depth, group_w,
            bot_mul.
        stem_channels (int): output channels of the 3x3 stride-2 stem.
        base_channels, deep_stem: accepted and unused, as in MMDetection
            (the stem is always one 3x3 conv).
        other arguments: as ``ResNet``'s (``dcn`` and ``plugins``
            included).
    """

    arch_settings = {
        'regnetx_400mf': dict(
            w0=24, wa=24.48, wm=2.54, group_w=16, depth=22, bot_mul=1.0
        ),
        'regnetx_800mf': dict(
            w0=56, wa=35.73, wm=2.28, group_w=16, depth=16, bot_mul=1.0
        ),
        'regnetx_1.6gf': dict(
            w0=80, wa=34.01, wm=2.25, group_w=24, depth=18, bot_mul=1.0
        ),
        'regnetx_3.2gf': dict(
            w0=88, wa=26.31, wm=2.25, group_w=48, depth=25, bot_mul=1.0
        ),
        'regnetx_4.0gf': dict(
            w0=96, wa=38.65, wm=2.43, group_w=40, depth=23, bot_mul=1.0
        ),
        'regnetx_6.4gf': dict(
            w0=184, wa=60.83, wm=2.07, group_w=56, depth=17, bot_mul=1.0
        ),
        'regnetx_8.0gf': dict(
            w0=80, wa=49.56, wm=2.88, group_w=120, depth=23, bot_mul=1.0
        ),
        'regnetx_12gf': dict(
            w0=168, wa=73.36, wm=2.37, group_w=112, depth=19, bot_mul=1.0
        ),
    }

    def __init__(
        self,
        arch,
        in_channels=3,
        stem_channels=32,
        base_channels=32,
        strides=(2, 2, 2, 2),
        dilations=(1, 1, 1, 1),
        out_indices=(0, 1, 2, 3),
        style='pytorch',
        deep_stem=False,
        avg_down=False,
        frozen_stages=-1,
        conv_cfg=None,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        dcn=None,
        stage_with_dcn=(False, False, False, False),
        plugins=None,
        with_cp=False,
        zero_init_residual=True,
        pretrained=None,
        init_cfg=None,
    ):
        # ResNet.__init__ would build ResNet's stages; RegNet builds its own
        ClassificationBackbone.__init__(
            self, frozen_stages, norm_eval, pretrained, init_cfg
        )
        self.zero_init_residual = zero_init_residual
        arch = self._arch_dict(arch)
        widths, blocks, groups = regnet_stages(arch)
        self.stage_widths, self.group_widths = widths, groups
        self.bottleneck_ratio = [arch['bot_mul']] * len(widths)
        args = {
            k: v
            for k, v in locals().items()
            if k not in ('self', '__class__', 'arch', 'widths', 'groups')
        }
        args.update(num_stages=len(widths), depth=sum(blocks))
        self._build_regnet(args, blocks)

    def _arch_dict(self, arch):
        if isinstance(arch, str):
            if arch not in self.arch_settings:
                raise KeyError(
                    f'RegNet: arch {arch!r} is not one of '
                    f'{sorted(self.arch_settings)}'
                )
            return self.arch_settings[arch]
        if not isinstance(arch, dict):
            raise ValueError(
                'RegNet: arch must be a str or a dict, got '
                f'{type(arch).__name__}'
            )
        return arch

    def _check_args(self, args):
        num_stages = args['num_stages']
        check_arg(
            1 <= num_stages <= 4,
            'RegNet',
            f'the arch has {num_stages} stages; 1..4 are allowed',
        )
        check_arg(
            len(args['strides']) == len(args['dilations']) == num_stages,
            'RegNet',
            f'strides {tuple(args["strides"])} and dilations '
            f'{tuple(args["dilations"])} need one entry per stage '
            f'({num_stages})',
        )
        check_arg(
            max(args['out_indices']) < num_stages,
            'RegNet',
            f'out_indices {tuple(args["out_indices"])} must be below '
            f'{num_stages}',
        )
        self._check_unsupported(args)

    def _build_regnet(self, args, stage_blocks):
        self._check_args(args)
        self.depth, self.num_stages = args['depth'], args['num_stages']
        self.out_indices = tuple(args['out_indices'])
        self.style, self.avg_down = args['style'], args['avg_down']
        self.deep_stem = False
        self.conv_cfg, self.norm_cfg = args['conv_cfg'], args['norm_cfg']
        self.with_cp = args['with_cp']
        self.dcn, self.plugins = args['dcn'], args['plugins']
        self.stage_with_dcn = tuple(args['stage_with_dcn'])
        self.block = RegNetBottleneck
        self.stage_blocks = stage_blocks
        self.stem_channels = args['stem_channels']
        self.base_channels = args['base_channels']
        self._make_stem(args['in_channels'], self.stem_channels)
        self.res_layers = []
        inplanes = self.stem_channels
        for i, num_blocks in enumerate(stage_blocks):
            layer = self._regnet_stage(args, i, inplanes, num_blocks)
            inplanes = self.stage_widths[i]
            self.add_module(f'layer{i + 1}', layer)
            self.res_layers.append(f'layer{i + 1}')
        self.out_channels = list(self.stage_widths)
        self.feat_dim = self.stage_widths[-1]
        self._post_init()

    def _regnet_stage(self, args, i, inplanes, num_blocks):
        width = self.stage_widths[i]
        bottleneck = int(round(width * self.bottleneck_ratio[i]))
        with_dcn = self.dcn is not None and self.stage_with_dcn[i]
        plugins = None
        if self.plugins is not None:
            plugins = self.make_stage_plugins(self.plugins, i)
        return self.make_res_layer(
            block=self.block,
            inplanes=inplanes,
            planes=width,
            num_blocks=num_blocks,
            stride=args['strides'][i],
            dilation=args['dilations'][i],
            style=self.style,
            avg_down=self.avg_down,
            with_cp=self.with_cp,
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg,
            dcn=self.dcn if with_dcn else None,
            plugins=plugins,
            groups=bottleneck // self.group_widths[i],
            base_width=self.group_widths[i],
            base_channels=width,
        )

    def _make_stem(self, in_channels, stem_channels):
        self.conv1 = conv_builder(self.conv_cfg)(
            in_channels, stem_channels, 3, 2, 1
        )
        self.norm1_name, norm1 = build_norm_layer(
            self.norm_cfg, stem_channels, postfix=1
        )
        self.add_module(self.norm1_name, norm1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        """(B, in_channels, H, W) -> the selected stage outputs (no max
        pool: the stages stride 2 each)."""
        x = self.relu(self.norm1(self.conv1(x)))
        outs = []
        for i, name in enumerate(self.res_layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
