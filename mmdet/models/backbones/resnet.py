"""ResNet with MMDetection 2.x's arguments, and OD-ResNet.

The module names (``conv1``, ``bn1``, ``layer1.0.conv2``, ``layer1.0.
downsample.0``...) are those of torchvision's and MMDetection's checkpoints.
``ResNet`` takes MMDetection's constructor arguments and, like it, has no
classifier unless ``num_classes`` is given; ``num_classes=1000`` adds
torchvision's ``avgpool`` + ``fc``, the layout of the released ODConv
detectors (their configs set it). ``OD_ResNet`` replaces every conv inside a
residual block by an ``ODConv2d`` (the stem and the downsample shortcuts
stay plain convs) and keeps ``fc`` by default, as released.

``dcn`` builds the 3x3 conv of the Bottlenecks of the stages flagged by
``stage_with_dcn`` from a conv config (``'DCN'`` / ``'DCNv2'``:
``mmdet.models.utils.deform_conv``); ``plugins`` inserts mmcv plugin layers
(``ContextBlock``, ``GeneralizedAttention``, ``NonLocal2d``, ``DropBlock``)
into the Bottlenecks. A conv type outside mmcv's registry raises
``UnsupportedOptionError`` naming the key.
"""

import inspect

import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn import (
    CONV_LAYERS,
    build_conv_layer,
    build_norm_layer,
    build_plugin_layer,
)
from mmcv.runner import BaseModule

from mmdet.utils.arg_errors import check_arg, unsupported
from ..builder import BACKBONES
from ..plugins import DropBlock  # noqa: F401 (registers the plugin)
from ..utils import deform_conv  # noqa: F401 (registers DCN, DCNv2)
from ..utils.res_layer import ResLayer, conv_builder
from .base_backbone import ClassificationBackbone
from .odconv import ODConv2d


def make_od_conv(reduction, kernel_num):
    """A ``conv_builder``-like factory building ``ODConv2d`` layers."""

    def od_conv(
        in_planes,
        out_planes,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
    ):
        return ODConv2d(
            in_planes,
            out_planes,
            kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
            groups=groups,
            reduction=reduction,
            kernel_num=kernel_num,
        )

    return od_conv


PLUGIN_POSITIONS = ('after_conv1', 'after_conv2', 'after_conv3')


class _ResBlock(BaseModule):
    """What both blocks share: named norms, plugins, the shortcut and
    ``with_cp``."""

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

    def make_block_plugins(self, in_channels, plugins):
        """Add the plugin layers ``plugins`` (their ``cfg`` dicts, an
        optional ``postfix`` in each) on ``in_channels``; their names
        (mmcv's abbreviation + postfix, e.g. ``context_block``)."""
        names = []
        for cfg in plugins:
            cfg = dict(cfg)
            name, layer = build_plugin_layer(
                cfg, postfix=cfg.pop('postfix', ''), in_channels=in_channels
            )
            check_arg(
                not hasattr(self, name),
                type(self).__name__,
                f'duplicate plugin {name!r}: give each plugin of one type '
                'its own "postfix"',
            )
            self.add_module(name, layer)
            names.append(name)
        return names

    def forward_plugin(self, x, plugin_names):
        """``x`` through the named plugins in turn (shape kept). MMDetection
        2.28 feeds each plugin ``x`` and keeps the last output: the same
        with one plugin per position, as in every stock config."""
        for name in plugin_names:
            x = getattr(self, name)(x)
        return x

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
    """Two 3x3 convs (ResNet-18/34); the stride sits on the first. No
    ``dcn`` or ``plugins`` (as in MMDetection)."""

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
    first 1x1 conv. ``dcn`` (a conv config, e.g. ``dict(type='DCN',
    deform_groups=1, fallback_on_stride=False)``) builds the 3x3 conv
    ``conv2``; ``fallback_on_stride=True`` keeps it a plain conv, as in
    MMDetection. ``plugins``: list of ``dict(cfg=..., position=
    'after_conv1' | 'after_conv2' | 'after_conv3')``, applied in order.
    """

    expansion = 4
    groups = 1  # ResNeXt's Bottleneck sets its own before this __init__

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
        self._check_args(style, conv_cfg, dcn, plugins)
        conv = conv or conv_builder(conv_cfg)
        self.inplanes, self.planes = inplanes, planes
        self.stride, self.dilation, self.style = stride, dilation, style
        self.with_cp = with_cp
        self.conv_cfg, self.norm_cfg = conv_cfg, norm_cfg
        self.dcn, self.with_dcn = dcn, dcn is not None
        self.plugins, self.with_plugins = plugins, plugins is not None
        self.conv1_stride = stride if style == 'caffe' else 1
        self.conv2_stride = 1 if style == 'caffe' else stride
        width, out = self.mid_channels(), planes * self.expansion
        self.conv1 = conv(inplanes, width, 1, self.conv1_stride)
        self.norm1_name = self._add_norm(norm_cfg, width, 1)
        self._make_middle(conv)
        self.conv3 = conv(width, out, 1)
        self.norm3_name = self._add_norm(norm_cfg, out, 3)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self._make_plugins(plugins or [], (width, width, out))

    def _check_args(self, style, conv_cfg, dcn, plugins):
        name = type(self).__name__
        check_arg(
            style in ('pytorch', 'caffe'),
            name,
            f"style must be 'pytorch' or 'caffe', got {style!r}",
        )
        check_arg(
            dcn is None or isinstance(dcn, dict),
            name,
            f'dcn must be a conv config dict or None, got {dcn!r}',
        )
        check_arg(
            dcn is None
            or conv_cfg is None
            or dcn.get('fallback_on_stride', False),
            name,
            f'conv_cfg must be None with dcn, got {conv_cfg!r}',
        )
        check_arg(
            plugins is None
            or isinstance(plugins, list)
            and all(p.get('position') in PLUGIN_POSITIONS for p in plugins),
            name,
            f'plugins must be a list of dicts with a position in '
            f'{PLUGIN_POSITIONS}, got {plugins!r}',
        )

    def mid_channels(self):
        """Channels of the 1x1 -> 3x3 -> 1x1 bottleneck."""
        return self.planes

    def _make_middle(self, conv):
        """The 3x3 part: ``conv2`` + ``norm2``."""
        width = self.mid_channels()
        self.conv2 = self._make_conv2(conv, width)
        self.norm2_name = self._add_norm(self.norm_cfg, width, 2)

    def _middle(self, x):
        return self.relu(self.norm2(self.conv2(x)))

    def _make_conv2(self, conv, width):
        dcn = dict(self.dcn or {})
        fallback = dcn.pop('fallback_on_stride', False)
        shape = dict(
            stride=self.conv2_stride,
            padding=self.dilation,
            dilation=self.dilation,
            groups=self.groups,
        )
        if not self.with_dcn or fallback:
            return conv(width, width, 3, **shape)
        return build_conv_layer(dcn, width, width, 3, bias=False, **shape)

    def _make_plugins(self, plugins, channels):
        for position, in_channels in zip(PLUGIN_POSITIONS, channels):
            cfgs = [p['cfg'] for p in plugins if p['position'] == position]
            names = self.make_block_plugins(in_channels, cfgs)
            setattr(self, f'{position}_plugin_names', names)

    @property
    def norm3(self):
        return getattr(self, self.norm3_name)

    def last_norm(self):
        return self.norm3

    def _residual(self, x):
        out = self.relu(self.norm1(self.conv1(x)))
        out = self.forward_plugin(out, self.after_conv1_plugin_names)
        out = self._middle(out)
        out = self.forward_plugin(out, self.after_conv2_plugin_names)
        out = self.norm3(self.conv3(out))
        return self.forward_plugin(out, self.after_conv3_plugin_names)


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
        dcn (dict, optional): conv config of the Bottlenecks' 3x3 conv
            (e.g. ``dict(type='DCN', deform_groups=1,
            fallback_on_stride=False)``) in the flagged stages.
        stage_with_dcn (Sequence[bool]): per stage, whether ``dcn`` applies.
        plugins (list[dict], optional): ``dict(cfg=<plugin config>,
            position='after_conv1' | 'after_conv2' | 'after_conv3',
            stages=<per-stage bools, optional>)``; Bottlenecks only.
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
        num_stages = args['num_stages']
        check_arg(
            args['dcn'] is None or len(args['stage_with_dcn']) == num_stages,
            name,
            f'stage_with_dcn {tuple(args["stage_with_dcn"])} needs one '
            f'entry per stage (num_stages={num_stages})',
        )
        for plugin in args['plugins'] or []:
            stages = plugin.get('stages')
            check_arg(
                stages is None or len(stages) == num_stages,
                name,
                f'plugin stages {stages} need one entry per stage '
                f'(num_stages={num_stages})',
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
        self.dcn, self.plugins = args['dcn'], args['plugins']
        self.stage_with_dcn = tuple(args['stage_with_dcn'])
        self.stage_blocks = stage_blocks[: self.num_stages]
        base = args['base_channels']
        stem_channels = args['stem_channels'] or base
        self.base_channels, self.stem_channels = base, stem_channels
        self._make_stem(args['in_channels'], stem_channels)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self._make_stages(args, conv)
        self.out_channels = [
            base * 2**i * block.expansion for i in range(self.num_stages)
        ]
        self.feat_dim = self.out_channels[-1]
        num_classes = args['num_classes']
        if num_classes is not None:
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(self.feat_dim, num_classes)
        self._post_init()

    def _make_stages(self, args, conv):
        """``layer1..num_stages``, with ``dcn`` and the plugins where their
        flags say."""
        self.res_layers = []
        inplanes, base = self.stem_channels, self.base_channels
        block = self.block
        for i, num_blocks in enumerate(self.stage_blocks):
            planes = base * 2**i
            with_dcn = self.dcn is not None and self.stage_with_dcn[i]
            plugins = None
            if self.plugins is not None:
                plugins = self.make_stage_plugins(self.plugins, i)
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
                dcn=self.dcn if with_dcn else None,
                plugins=plugins,
                conv=conv,
            )
            inplanes = planes * block.expansion
            self.add_module(f'layer{i + 1}', layer)
            self.res_layers.append(f'layer{i + 1}')

    def make_stage_plugins(self, plugins, stage_idx):
        """The plugin configs (without ``stages``) of stage ``stage_idx``:
        those whose ``stages`` flag it, or that have no ``stages``."""
        picked = []
        for plugin in plugins:
            plugin = dict(plugin)
            stages = plugin.pop('stages', None)
            if stages is None or stages[stage_idx]:
                picked.append(plugin)
        return picked

    def make_res_layer(self, **kwargs):
        """One stage (``ResLayer``); ResNeXt adds its width arguments."""
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
        for m in self.modules():
            if hasattr(m, 'init_offset'):  # DCN: start as a plain conv
                m.init_offset()
            if isinstance(m, _ResBlock):
                _reset_plugins(m)

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


def _reset_plugins(block):
    """Give the plugin layers of ``block`` their own initialisation back
    (e.g. ContextBlock's zero last conv, so a new block starts as
    identity)."""
    for position in PLUGIN_POSITIONS:
        for name in getattr(block, f'{position}_plugin_names', ()):
            layer = getattr(block, name)
            init = getattr(layer, 'init_weights', None) or getattr(
                layer, 'reset_parameters', None
            )
            if init is not None:
                init()


def _resnet_defaults():
    """``ResNet.__init__``'s keyword arguments and their defaults."""
    return {
        name: p.default
        for name, p in inspect.signature(ResNet.__init__).parameters.items()
        if p.default is not inspect.Parameter.empty
    }


@BACKBONES.register_module()
class ResNetV1d(ResNet):
    """ResNet-D (He et al., "Bag of Tricks", 2019): ``deep_stem`` (three
    3x3 convs) and ``avg_down`` (average-pool in the projection shortcuts)
    on; other arguments as ``ResNet``'s."""

    def __init__(self, **kwargs):
        super().__init__(deep_stem=True, avg_down=True, **kwargs)
