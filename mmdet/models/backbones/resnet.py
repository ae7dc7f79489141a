"""ResNet with MMDetection 2.x's arguments, and OD-ResNet.

The module names (``conv1``, ``bn1``, ``layer1.0.conv2``, ``layer1.0.
downsample.0``...) are those of torchvision's and MMDetection's checkpoints.
``ResNet`` takes MMDetection's constructor arguments and, like it, has no
classifier unless ``num_classes`` is given; ``num_classes=1000`` adds
torchvision's ``avgpool`` + ``fc``, the layout of the released ODConv
detectors (their configs set it). ``OD_ResNet`` replaces every conv inside a
residual block by an ``ODConv2d`` (the stem and the downsample shortcuts
stay plain convs) and keeps ``fc`` by default, as released.

Options MMDetection has but this toolbox does not implement (``dcn``,
``plugins``, conv types outside mmcv's pure-Python registry) raise
``UnsupportedOptionError`` naming the key.
"""

import inspect

import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn import CONV_LAYERS, build_conv_layer, build_norm_layer
from mmcv.runner import BaseModule

from mmdet.utils.arg_errors import check_arg, unsupported
from ..builder import BACKBONES
from .base_backbone import ClassificationBackbone
from .odconv import ODConv2d


def conv_builder(conv_cfg):
    """A ``conv(in, out, k, stride=1, padding=0, dilation=1)`` factory of
    bias-free convs built by mmcv from ``conv_cfg`` (None: ``nn.Conv2d``)."""

    def conv(
        in_planes, out_planes, kernel_size, stride=1, padding=0, dilation=1
    ):
        return build_conv_layer(
            conv_cfg,
            in_planes,
            out_planes,
            kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
            bias=False,
        )

    return conv


def make_od_conv(reduction, kernel_num):
    """The same factory building ``ODConv2d`` layers."""

    def od_conv(
        in_planes, out_planes, kernel_size, stride=1, padding=0, dilation=1
    ):
        return ODConv2d(
            in_planes,
            out_planes,
            kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
            reduction=reduction,
            kernel_num=kernel_num,
        )

    return od_conv


class _ResBlock(BaseModule):
    """What both blocks share: named norms, the shortcut and ``with_cp``."""

    def _add_norm(self, norm_cfg, channels, postfix):
        name, norm = build_norm_layer(norm_cfg, channels, postfix=postfix)
        self.add_module(name, norm)
        return name

    @property
    def norm1(self):
        return getattr(self, self.norm1_name)

    @property
    def norm2(self):
        return getattr(self, self.norm2_name)

    def _residual(self, x):
        raise NotImplementedError

    def forward(self, x):
        """(B, inplanes, H, W) -> (B, planes * expansion, H / s, W / s)."""

        def inner(x):
            identity = x if self.downsample is None else self.downsample(x)
            return self._residual(x) + identity

        if self.with_cp and x.requires_grad:
            out = cp.checkpoint(inner, x, use_reentrant=False)
        else:
            out = inner(x)
        return self.relu(out)


class BasicBlock(_ResBlock):
    """Two 3x3 convs (ResNet-18/34); the stride sits on the first."""

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
        init_cfg=None,
        conv=None,
    ):
        super().__init__(init_cfg)
        if dcn is not None:
            raise unsupported('BasicBlock', 'dcn', dcn, 'Use dcn=None.')
        if plugins is not None:
            raise unsupported(
                'BasicBlock', 'plugins', plugins, 'Use plugins=None.'
            )
        conv = conv or conv_builder(conv_cfg)
        self.inplanes, self.planes = inplanes, planes
        self.stride, self.dilation, self.style = stride, dilation, style
        self.with_cp = with_cp
        self.conv1 = conv(inplanes, planes, 3, stride, dilation, dilation)
        self.norm1_name = self._add_norm(norm_cfg, planes, 1)
        self.conv2 = conv(planes, planes, 3, 1, 1)
        self.norm2_name = self._add_norm(norm_cfg, planes, 2)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def last_norm(self):
        return self.norm2

    def _residual(self, x):
        out = self.relu(self.norm1(self.conv1(x)))
        return self.norm2(self.conv2(out))


class Bottleneck(_ResBlock):
    """1x1 -> 3x3 -> 1x1 with 4x expansion (ResNet-50/101/152).

    ``style='pytorch'`` puts the stride on the 3x3 conv, ``'caffe'`` on the
    first 1x1 conv.
    """

    expansion = 4

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
    ):
        super().__init__(init_cfg)
        check_arg(
            style in ('pytorch', 'caffe'),
            'Bottleneck',
            f"style must be 'pytorch' or 'caffe', got {style!r}",
        )
        if dcn is not None:
            raise unsupported('Bottleneck', 'dcn', dcn, 'Use dcn=None.')
        if plugins is not None:
            raise unsupported(
                'Bottleneck', 'plugins', plugins, 'Use plugins=None.'
            )
        conv = conv or conv_builder(conv_cfg)
        self.inplanes, self.planes = inplanes, planes
        self.stride, self.dilation, self.style = stride, dilation, style
        self.with_cp = with_cp
        self.conv1_stride = stride if style == 'caffe' else 1
        self.conv2_stride = 1 if style == 'caffe' else stride
        self.conv1 = conv(inplanes, planes, 1, self.conv1_stride)
        self.norm1_name = self._add_norm(norm_cfg, planes, 1)
        self.conv2 = conv(
            planes, planes, 3, self.conv2_stride, dilation, dilation
        )
        self.norm2_name = self._add_norm(norm_cfg, planes, 2)
        self.conv3 = conv(planes, planes * self.expansion, 1)
        self.norm3_name = self._add_norm(norm_cfg, planes * self.expansion, 3)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    @property
    def norm3(self):
        return getattr(self, self.norm3_name)

    def last_norm(self):
        return self.norm3

    def _residual(self, x):
        out = self.relu(self.norm1(self.conv1(x)))
        out = self.relu(self.norm2(self.conv2(out)))
        return self.norm3(self.conv3(out))


class ResLayer(nn.Sequential):
    """One stage: ``num_blocks`` blocks, the first strided and with a
    projection shortcut when the shape changes (``avg_down``: average-pool
    then a stride-1 1x1 conv, else a strided 1x1 conv; the pool is there at
    stride 1 too, as in MMDetection, so the conv is always
    ``downsample.1``). The shortcut conv is
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


@BACKBONES.register_module()
class ResNet(ClassificationBackbone):
    """ResNet backbone returning the outputs of ``layer{i+1}`` for i in
    ``out_indices`` (default strides 4, 8, 16, 32; channels
    ``base_channels * 2**i * expansion``).

    Args (MMDetection 2.x's, same defaults):
        depth (int): 18, 34, 50, 101 or 152.
        in_channels (int): input image channels.
        stem_channels (int, optional): stem output channels
            (default ``base_channels``).
        base_channels (int): planes of the first stage.
        num_stages (int): 1..4 stages.
        strides, dilations (Sequence[int]): per stage.
        out_indices (Sequence[int]): stages whose outputs are returned.
        style (str): 'pytorch' (stride on the 3x3 conv) or 'caffe' (on the
            first 1x1 conv).
        deep_stem (bool): three 3x3 convs (``stem``) instead of the 7x7.
        avg_down (bool): average-pool in the projection shortcuts.
        frozen_stages (int): -1 nothing, 0 the stem, k the stem and
            ``layer1..k`` (``requires_grad=False``, norms in eval mode).
        conv_cfg (dict, optional): mmcv conv layer config.
        norm_cfg (dict): mmcv norm layer config (BN, SyncBN, GN...;
            ``requires_grad``).
        norm_eval (bool): keep BatchNorms in eval mode while training.
        dcn, plugins: only None (raise ``UnsupportedOptionError``).
        stage_with_dcn (Sequence[bool]): needs ``dcn``; all False without.
        with_cp (bool): activation checkpointing in each block.
        zero_init_residual (bool): zero the last norm of every block at
            random initialisation.
        pretrained (str, optional): deprecated, as ``init_cfg=dict(
            type='Pretrained', checkpoint=pretrained)``.
        init_cfg (dict | list, optional): ``dict(type='Pretrained',
            checkpoint=...)`` loads a checkpoint (a path, an http(s) URL,
            ``torchvision://``, ``open-mmlab://``...); other mmcv init
            configs apply after the random initialisation.
        num_classes (int, optional): this toolbox's addition; adds
            ``avgpool`` + ``fc`` (``num_classes`` outputs, unused by
            detectors) so classification checkpoints with ``fc`` load
            strictly.
    """

    arch_settings = {
        18: (BasicBlock, (2, 2, 2, 2)),
        34: (BasicBlock, (3, 4, 6, 3)),
        50: (Bottleneck, (3, 4, 6, 3)),
        101: (Bottleneck, (3, 4, 23, 3)),
        152: (Bottleneck, (3, 8, 36, 3)),
    }

    def __init__(
        self,
        depth,
        in_channels=3,
        stem_channels=None,
        base_channels=64,
        num_stages=4,
        strides=(1, 2, 2, 2),
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
        num_classes=None,
    ):
        super().__init__(frozen_stages, norm_eval, pretrained, init_cfg)
        self.zero_init_residual = zero_init_residual
        args = {
            k: v for k, v in locals().items() if k not in ('self', '__class__')
        }
        self._build(args, conv=None)

    # -- construction ---------------------------------------------------

    def _check_args(self, args):
        name = type(self).__name__
        if args['depth'] not in self.arch_settings:
            raise KeyError(
                f'invalid depth {args["depth"]} for {name}; '
                f'choose from {sorted(self.arch_settings)}'
            )
        num_stages = args['num_stages']
        check_arg(
            1 <= num_stages <= 4,
            name,
            f'num_stages must be within 1..4, got {num_stages}',
        )
        check_arg(
            len(args['strides']) == len(args['dilations']) == num_stages,
            name,
            f'strides {tuple(args["strides"])} and dilations '
            f'{tuple(args["dilations"])} need one entry per stage '
            f'(num_stages={num_stages})',
        )
        out_indices = tuple(args['out_indices'])
        check_arg(
            len(out_indices) > 0
            and max(out_indices) < num_stages
            and min(out_indices) >= 0,
            name,
            f'out_indices {out_indices} must lie within 0..{num_stages - 1}',
        )
        check_arg(
            args['style'] in ('pytorch', 'caffe'),
            name,
            f"style must be 'pytorch' or 'caffe', got {args['style']!r}",
        )
        check_arg(
            -1 <= self.frozen_stages <= num_stages,
            name,
            f'frozen_stages must be within -1..{num_stages}, got '
            f'{self.frozen_stages}',
        )
        self._check_unsupported(args)

    def _check_unsupported(self, args):
        name = type(self).__name__
        if args['dcn'] is not None:
            raise unsupported(
                name,
                'dcn',
                args['dcn'],
                'Deformable convs need compiled ops; use dcn=None.',
            )
        if any(args['stage_with_dcn']):
            raise unsupported(
                name,
                'stage_with_dcn',
                tuple(args['stage_with_dcn']),
                'It needs dcn; use all False.',
            )
        if args['plugins'] is not None:
            raise unsupported(
                name, 'plugins', args['plugins'], 'Use plugins=None.'
            )
        conv_cfg = args['conv_cfg']
        if conv_cfg is not None:
            check_arg(
                isinstance(conv_cfg, dict) and 'type' in conv_cfg,
                name,
                f'conv_cfg must be a dict with "type", got {conv_cfg!r}',
            )
            if conv_cfg['type'] not in CONV_LAYERS.module_dict:
                raise unsupported(
                    name,
                    'conv_cfg',
                    conv_cfg,
                    f'Known conv types: {sorted(CONV_LAYERS.module_dict)}.',
                )

    def _build(self, args, conv):
        self._check_args(args)
        block, stage_blocks = self.arch_settings[args['depth']]
        self.depth = args['depth']
        self.block = block
        self.num_stages = args['num_stages']
        self.out_indices = tuple(args['out_indices'])
        self.style = args['style']
        self.deep_stem = args['deep_stem']
        self.avg_down = args['avg_down']
        self.conv_cfg, self.norm_cfg = args['conv_cfg'], args['norm_cfg']
        self.with_cp = args['with_cp']
        self.dcn, self.plugins = None, None
        self.stage_blocks = stage_blocks[: self.num_stages]
        base = args['base_channels']
        stem_channels = args['stem_channels'] or base
        self.base_channels, self.stem_channels = base, stem_channels
        self._make_stem(args['in_channels'], stem_channels)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.res_layers = []
        inplanes = stem_channels
        for i, num_blocks in enumerate(self.stage_blocks):
            planes = base * 2**i
            layer = self.make_res_layer(
                block=block,
                inplanes=inplanes,
                planes=planes,
                num_blocks=num_blocks,
                stride=args['strides'][i],
                dilation=args['dilations'][i],
                style=self.style,
                avg_down=self.avg_down,
                with_cp=self.with_cp,
                conv_cfg=self.conv_cfg,
                norm_cfg=self.norm_cfg,
                conv=conv,
            )
            inplanes = planes * block.expansion
            self.add_module(f'layer{i + 1}', layer)
            self.res_layers.append(f'layer{i + 1}')
        self.out_channels = [
            base * 2**i * block.expansion for i in range(self.num_stages)
        ]
        self.feat_dim = self.out_channels[-1]
        num_classes = args['num_classes']
        if num_classes is not None:
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(self.feat_dim, num_classes)
        self._post_init()

    def make_res_layer(self, **kwargs):
        """One stage (MMDetection's hook: subclasses change the layer
        type or add block arguments)."""
        return ResLayer(**kwargs)

    def _make_stem(self, in_channels, stem_channels):
        conv = conv_builder(self.conv_cfg)
        if self.deep_stem:
            mid = stem_channels // 2
            layers = []
            for i, (c_in, c_out) in enumerate(
                ((in_channels, mid), (mid, mid), (mid, stem_channels))
            ):
                layers += [
                    conv(c_in, c_out, 3, 2 if i == 0 else 1, 1),
                    build_norm_layer(self.norm_cfg, c_out)[1],
                    nn.ReLU(inplace=True),
                ]
            self.stem = nn.Sequential(*layers)
        else:
            self.conv1 = conv(in_channels, stem_channels, 7, 2, 3)
            self.norm1_name, norm1 = build_norm_layer(
                self.norm_cfg, stem_channels, postfix=1
            )
            self.add_module(self.norm1_name, norm1)
            self.relu = nn.ReLU(inplace=True)

    @property
    def norm1(self):
        return getattr(self, self.norm1_name)

    # -- behaviour -----------------------------------------------------

    def _stem_modules(self):
        return [self.stem] if self.deep_stem else [self.conv1, self.norm1]

    def _frozen_modules(self):
        if self.frozen_stages < 0:
            return []
        return self._stem_modules() + [
            getattr(self, f'layer{i}')
            for i in range(1, self.frozen_stages + 1)
        ]

    def _random_init(self):
        super()._random_init()
        if self.zero_init_residual:
            for m in self.modules():
                if isinstance(m, _ResBlock):
                    nn.init.zeros_(m.last_norm().weight)

    def forward(self, x):
        """(B, in_channels, H, W) -> tuple of the selected stage outputs."""
        if self.deep_stem:
            x = self.stem(x)
        else:
            x = self.relu(self.norm1(self.conv1(x)))
        x = self.maxpool(x)
        outs = []
        for i, name in enumerate(self.res_layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)


@BACKBONES.register_module()
class OD_ResNet(ResNet):
    """ResNet whose residual-block convs are ODConv2d (``kernel_num``
    candidate kernels, attention squeeze ``reduction``, attention
    ``temperature``, 1.0 as released). Keeps ``fc`` (``num_classes=1000``)
    by default, the layout of the ODConv ImageNet and detector releases;
    every other argument as ``ResNet``'s."""

    def __init__(
        self,
        depth,
        num_classes=1000,
        reduction=0.0625,
        kernel_num=4,
        temperature=1.0,
        zero_init_residual=False,
        **kwargs,
    ):
        defaults = _resnet_defaults()
        for key in kwargs:
            if key not in defaults:
                raise TypeError(
                    f'OD_ResNet.__init__() got an unexpected '
                    f'keyword argument {key!r}'
                )
        args = dict(defaults, **kwargs)
        args.update(depth=depth, num_classes=num_classes)
        ClassificationBackbone.__init__(
            self,
            args['frozen_stages'],
            args['norm_eval'],
            args['pretrained'],
            args['init_cfg'],
        )
        self.zero_init_residual = zero_init_residual
        self._build(args, conv=make_od_conv(reduction, kernel_num))
        self.temperature = float(temperature)
        self.net_update_temperature(self.temperature)


def _resnet_defaults():
    """``ResNet.__init__``'s keyword arguments and their defaults."""
    return {
        name: p.default
        for name, p in inspect.signature(ResNet.__init__).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
