"""EfficientNet (Tan & Le, 2019) with MMDetection 2.28's arguments and
checkpoint layout (ported there from MMClassification): ``layers.0`` the
stem ConvModule, ``layers.1..5`` Sequentials of ``InvertedResidual`` blocks
with squeeze-excitation, ``layers.6`` the last 1x1 ConvModule (built only
when ``out_indices`` asks for it)."""

import itertools
import math

import torch
from mmcv.cnn import ConvModule
from mmcv.runner import Sequential
from torch import nn

from mmdet.utils.arg_errors import check_arg, unsupported
from ..builder import BACKBONES
from ..utils.inverted_residual import InvertedResidual
from ..utils.make_divisible import make_divisible
from .base_backbone import ClassificationBackbone

# EfficientNet-B0, one row per block:
# (kernel, out channels, SE ratio, stride, expand ratio); the first and the
# last layers are plain convs
B0_LAYERS = (
    ((3, 32, 0, 2, 0),),
    ((3, 16, 4, 1, 1),),
    ((3, 24, 4, 2, 6), (3, 24, 4, 1, 6)),
    ((5, 40, 4, 2, 6), (5, 40, 4, 1, 6)),
    ((3, 80, 4, 2, 6), (3, 80, 4, 1, 6), (3, 80, 4, 1, 6))
    + ((5, 112, 4, 1, 6),) * 3,
    ((5, 192, 4, 2, 6),) * 1 + ((5, 192, 4, 1, 6),) * 3 + ((3, 320, 4, 1, 6),),
    ((1, 1280, 0, 1, 0),),
)


def scale_layers(layers, width_factor, depth_factor):
    """Compound scaling as MMDetection 2.28 does it: every width times
    ``width_factor`` (to a multiple of 8); each run of equal width inside
    the middle layers gets ``ceil(depth_factor * n)`` blocks (the last one
    repeated); a run whose first block has stride 1 joins the previous
    layer (except the first run)."""
    widened = [
        [(k, make_divisible(c * width_factor, 8), *rest) for k, c, *rest in x]
        for x in layers
    ]
    runs = [
        list(run)
        for layer in widened[1:-1]
        for _, run in itertools.groupby(layer, key=lambda b: b[1])
    ]
    merged = [widened[0]]
    for i, run in enumerate(runs):
        n = int(math.ceil(depth_factor * len(run)))
        run = run[:n] + [run[-1]] * (n - len(run))
        if run[0][3] == 1 and i != 0:
            merged[-1] = merged[-1] + run
        else:
            merged.append(run)
    merged.append(widened[-1])
    return merged


@BACKBONES.register_module()
class EfficientNet(ClassificationBackbone):
    """EfficientNet backbone returning the outputs of ``layers[i]`` for i
    in ``out_indices`` (0 stem, stride 2; 1..5 the block layers, strides 2,
    4, 8, 16, 32; 6 the last conv).

    Args (MMDetection 2.28's, same defaults):
        arch (str): 'b0'..'b8' (width and depth factors of
            ``arch_settings``); the EdgeTPU archs 'es', 'em', 'el' raise
            ``UnsupportedOptionError``.
        drop_path_rate (float): stochastic depth, rising linearly from 0
            over the blocks.
        out_indices (Sequence[int]): within 0..6.
        frozen_stages (int): freeze ``layers[0..frozen_stages-1]`` (0:
            nothing).
        conv_cfg, norm_cfg, act_cfg (dict): for every ConvModule ('same'
            padding by ``Conv2dAdaptivePadding``, eps 1e-3, Swish).
        norm_eval (bool): keep BatchNorms in eval mode while training.
        with_cp (bool): activation checkpointing in each block.
        init_cfg: as ``ResNet``'s; by default Kaiming convs, unit norms.
    """

    # width factor, depth factor, resolution
    arch_settings = {
        'b0': (1.0, 1.0, 224),
        'b1': (1.0, 1.1, 240),
        'b2': (1.1, 1.2, 260),
        'b3': (1.2, 1.4, 300),
        'b4': (1.4, 1.8, 380),
        'b5': (1.6, 2.2, 456),
        'b6': (1.8, 2.6, 528),
        'b7': (2.0, 3.1, 600),
        'b8': (2.2, 3.6, 672),
    }
    edge_tpu_archs = ('es', 'em', 'el')

    def __init__(
        self,
        arch='b0',
        drop_path_rate=0.0,
        out_indices=(6,),
        frozen_stages=0,
        conv_cfg=dict(type='Conv2dAdaptivePadding'),
        norm_cfg=dict(type='BN', eps=1e-3),
        act_cfg=dict(type='Swish'),
        norm_eval=False,
        with_cp=False,
        init_cfg=[
            dict(type='Kaiming', layer='Conv2d'),
            dict(type='Constant', layer=['_BatchNorm', 'GroupNorm'], val=1),
        ],
    ):
        super().__init__(frozen_stages, norm_eval, None, init_cfg)
        self._check_args(arch, out_indices, frozen_stages)
        self.arch = arch
        self.drop_path_rate = drop_path_rate
        self.out_indices = tuple(out_indices)
        self.conv_cfg, self.norm_cfg = conv_cfg, norm_cfg
        self.act_cfg, self.with_cp = act_cfg, with_cp
        width, depth, _ = self.arch_settings[arch]
        self.layer_setting = scale_layers(B0_LAYERS, width, depth)
        stem, last = self.layer_setting[0][0], self.layer_setting[-1][0]
        self.layers = nn.ModuleList([self._conv(3, stem)])
        channels = self._make_block_layers(stem[1])
        if len(self.layers) < max(self.out_indices) + 1:
            self.layers.append(self._conv(channels, last))
        widths = [layer[-1][1] for layer in self.layer_setting]
        self.out_channels = [widths[i] for i in self.out_indices]
        self._post_init()

    def _check_args(self, arch, out_indices, frozen_stages):
        if arch in self.edge_tpu_archs:
            raise unsupported(
                'EfficientNet', 'arch', arch, "Use one of 'b0'..'b8'."
            )
        check_arg(
            arch in self.arch_settings,
            'EfficientNet',
            f'arch must be one of {sorted(self.arch_settings)}, got {arch!r}',
        )
        n = len(B0_LAYERS)
        check_arg(
            all(0 <= i < n for i in out_indices),
            'EfficientNet',
            f'out_indices must lie within 0..{n - 1}, got {out_indices}',
        )
        check_arg(
            0 <= frozen_stages <= n,
            'EfficientNet',
            f'frozen_stages must be within 0..{n}, got {frozen_stages}',
        )

    def _conv(self, in_channels, setting):
        kernel, out_channels, _, stride, _ = setting
        return ConvModule(
            in_channels,
            out_channels,
            kernel,
            stride=stride,
            padding=kernel // 2,
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg,
        )

    def _make_block_layers(self, channels):
        """Append the block layers up to the last one ``out_indices``
        needs; returns the channels after them."""
        middle = self.layer_setting[1:-1]
        total = sum(len(layer) for layer in middle)
        rates = torch.linspace(0, self.drop_path_rate, total).tolist()
        for layer in middle[: max(self.out_indices)]:
            blocks = []
            for setting in layer:
                blocks.append(self._block(channels, setting, rates.pop(0)))
                channels = setting[1]
            self.layers.append(Sequential(*blocks))
        return channels

    def _block(self, in_channels, setting, drop_path_rate):
        kernel, out_channels, se_ratio, stride, expand_ratio = setting
        mid = int(in_channels * expand_ratio)
        se_cfg = None
        if se_ratio > 0:
            se_cfg = dict(
                channels=mid,
                ratio=expand_ratio * se_ratio,
                act_cfg=(self.act_cfg, dict(type='Sigmoid')),
            )
        return InvertedResidual(
            in_channels,
            out_channels,
            mid,
            kernel_size=kernel,
            stride=stride,
            se_cfg=se_cfg,
            with_expand_conv=mid != in_channels,
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg,
            drop_path_rate=drop_path_rate,
            with_cp=self.with_cp,
        )

    def _frozen_modules(self):
        return list(self.layers[: self.frozen_stages])

    def unused_checkpoint_key(self, key):
        """The layers after the last one ``out_indices`` needs (not
        built), and a classifier."""
        parts = key.split('.')
        unbuilt = parts[0] == 'layers' and int(parts[1]) >= len(self.layers)
        return unbuilt or super().unused_checkpoint_key(key)

    def forward(self, x):
        """(B, 3, H, W) -> tuple of the selected layer outputs."""
        outs = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
