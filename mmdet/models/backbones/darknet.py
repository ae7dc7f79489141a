"""Darknet-53, the backbone of YOLOv3 (MMDetection 2.x names).

``conv1`` (3x3, 32 channels) and five ``conv_res_block{i}``: a strided 3x3
``conv`` followed by ``res0..`` residual blocks (1x1 halving the channels,
3x3 restoring them, plus the input). Every conv is an mmcv ``ConvModule``
(conv + BN + LeakyReLU 0.1).
"""

import warnings

import torch.nn as nn
from mmcv.cnn import ConvModule
from mmcv.runner import BaseModule
from torch.nn.modules.batchnorm import _BatchNorm

from mmdet.utils.arg_errors import InvalidArgumentTypeError, check_arg
from ..builder import BACKBONES

DARKNET_NORM_CFG = dict(type='BN', requires_grad=True)
DARKNET_ACT_CFG = dict(type='LeakyReLU', negative_slope=0.1)


class ResBlock(BaseModule):
    """1x1 conv to ``in_channels / 2``, 3x3 conv back, plus the input:
    (B, C, H, W) -> (B, C, H, W)."""

    def __init__(
        self,
        in_channels,
        conv_cfg=None,
        norm_cfg=DARKNET_NORM_CFG,
        act_cfg=DARKNET_ACT_CFG,
        init_cfg=None,
    ):
        super().__init__(init_cfg)
        check_arg(
            in_channels % 2 == 0,
            'ResBlock',
            f'in_channels must be even, got {in_channels}',
        )
        half = in_channels // 2
        cfgs = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.conv1 = ConvModule(in_channels, half, 1, **cfgs)
        self.conv2 = ConvModule(half, in_channels, 3, padding=1, **cfgs)

    def forward(self, x):
        return self.conv2(self.conv1(x)) + x


@BACKBONES.register_module()
class Darknet(BaseModule):
    """Darknet backbone.

    Args (MMDetection 2.28's, same defaults):
        depth (int): 53 only.
        out_indices (Sequence[int]): outputs returned; 0 is ``conv1``
            (stride 1), i the output of ``conv_res_block{i}`` (stride
            2**i, channels 32 * 2**i). (3, 4, 5): strides 8, 16, 32.
        frozen_stages (int): -1 nothing, k: ``conv1`` and the first k - 1
            conv-res blocks (MMDetection's count, applied in ``train()``).
        conv_cfg, norm_cfg, act_cfg (dict): for every ConvModule.
        norm_eval (bool): keep BatchNorms in eval mode while training.
        pretrained (str, optional): deprecated, as ``init_cfg=dict(
            type='Pretrained', checkpoint=pretrained)``.
        init_cfg (dict | list, optional): mmcv init config.
    """

    # depth: (residual blocks per stage, (in, out) channels per stage)
    arch_settings = {
        53: (
            (1, 2, 8, 8, 4),
            ((32, 64), (64, 128), (128, 256), (256, 512), (512, 1024)),
        )
    }

    def __init__(
        self,
        depth=53,
        out_indices=(3, 4, 5),
        frozen_stages=-1,
        conv_cfg=None,
        norm_cfg=DARKNET_NORM_CFG,
        act_cfg=DARKNET_ACT_CFG,
        norm_eval=True,
        pretrained=None,
        init_cfg=None,
    ):
        super().__init__(_darknet_init_cfg(pretrained, init_cfg))
        if depth not in self.arch_settings:
            raise KeyError(f'invalid depth {depth} for darknet')
        self.depth = depth
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.layers, self.channels = self.arch_settings[depth]
        cfgs = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.conv1 = ConvModule(3, 32, 3, padding=1, **cfgs)
        self.cr_blocks = ['conv1']
        for i, (num_res, (in_c, out_c)) in enumerate(
            zip(self.layers, self.channels)
        ):
            name = f'conv_res_block{i + 1}'
            block = self.make_conv_res_block(in_c, out_c, num_res, **cfgs)
            self.add_module(name, block)
            self.cr_blocks.append(name)

    @staticmethod
    def make_conv_res_block(
        in_channels,
        out_channels,
        res_repeat,
        conv_cfg=None,
        norm_cfg=DARKNET_NORM_CFG,
        act_cfg=DARKNET_ACT_CFG,
    ):
        """A stride-2 3x3 ``conv`` then ``res_repeat`` ``ResBlock``s named
        ``res0``, ``res1``..."""
        cfgs = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        block = nn.Sequential()
        block.add_module(
            'conv',
            ConvModule(
                in_channels, out_channels, 3, stride=2, padding=1, **cfgs
            ),
        )
        for i in range(res_repeat):
            block.add_module(f'res{i}', ResBlock(out_channels, **cfgs))
        return block

    def forward(self, x):
        """(B, 3, H, W) -> tuple of the ``out_indices`` outputs."""
        outs = []
        for i, name in enumerate(self.cr_blocks):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def _freeze_stages(self):
        for name in self.cr_blocks[: max(self.frozen_stages, 0)]:
            module = getattr(self, name)
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode=True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self


def _darknet_init_cfg(pretrained, init_cfg):
    """MMDetection's rule: ``pretrained`` (deprecated) becomes a Pretrained
    init_cfg; neither gives Kaiming convs and unit norms."""
    check_arg(
        not (init_cfg and pretrained),
        'Darknet',
        'init_cfg and pretrained cannot be set at the same time',
    )
    if isinstance(pretrained, str):
        warnings.warn(
            'DeprecationWarning: pretrained is deprecated, use "init_cfg" '
            'instead'
        )
        return dict(type='Pretrained', checkpoint=pretrained)
    if pretrained is not None:
        raise InvalidArgumentTypeError(
            f'Darknet: pretrained must be a str or None, got {pretrained!r}'
        )
    if init_cfg is not None:
        return init_cfg
    return [
        dict(type='Kaiming', layer='Conv2d'),
        dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm']),
    ]
