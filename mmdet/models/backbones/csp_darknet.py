"""CSP-Darknet, the backbone of YOLOv5 and YOLOX (MMDetection 2.x names).

Layout: ``stem`` (``Focus``: space-to-depth then a 3x3 conv, stride 2) and
``stage1..4`` (``P5``) or ``stage1..5`` (``P6``), each a strided 3x3
``ConvModule``, an ``SPPBottleneck`` in the last stage, and a ``CSPLayer``.
``deepen_factor`` scales the bottleneck counts, ``widen_factor`` the
channels (YOLOX-s: 0.33 / 0.5).
"""

import math

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmcv.runner import BaseModule
from torch.nn.modules.batchnorm import _BatchNorm

from mmdet.utils.arg_errors import check_arg
from ..builder import BACKBONES
from ..utils.csp_layer import (
    CSP_ACT_CFG,
    CSP_NORM_CFG,
    CSPLayer,
    conv_module_type,
)


class Focus(nn.Module):
    """Space-to-depth (each 2x2 patch's pixels become 4x the channels,
    ordered top-left, bottom-left, top-right, bottom-right) then ``conv``:
    (B, C, H, W) -> (B, out_channels, H / 2, W / 2)."""

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size=1,
        stride=1,
        conv_cfg=None,
        norm_cfg=CSP_NORM_CFG,
        act_cfg=CSP_ACT_CFG,
    ):
        super().__init__()
        self.conv = ConvModule(
            in_channels * 4,
            out_channels,
            kernel_size,
            stride,
            padding=(kernel_size - 1) // 2,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
        )

    def forward(self, x):
        patches = (
            x[..., ::2, ::2],
            x[..., 1::2, ::2],
            x[..., ::2, 1::2],
            x[..., 1::2, 1::2],
        )
        return self.conv(torch.cat(patches, dim=1))


class SPPBottleneck(BaseModule):
    """Spatial pyramid pooling of YOLOv3-SPP: ``conv1`` halves the
    channels, stride-1 max pools of each kernel size are concatenated with
    their input and ``conv2`` maps to ``out_channels`` (same H, W)."""

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_sizes=(5, 9, 13),
        conv_cfg=None,
        norm_cfg=CSP_NORM_CFG,
        act_cfg=CSP_ACT_CFG,
        init_cfg=None,
    ):
        super().__init__(init_cfg)
        mid = in_channels // 2
        cfgs = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.conv1 = ConvModule(in_channels, mid, 1, stride=1, **cfgs)
        self.poolings = nn.ModuleList(
            nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2)
            for k in kernel_sizes
        )
        self.conv2 = ConvModule(
            mid * (len(kernel_sizes) + 1), out_channels, 1, **cfgs
        )

    def forward(self, x):
        x = self.conv1(x)
        pooled = [x] + [pool(x) for pool in self.poolings]
        return self.conv2(torch.cat(pooled, dim=1))


@BACKBONES.register_module()
class CSPDarknet(BaseModule):
    """CSP-Darknet backbone.

    Args (MMDetection 2.28's, same defaults):
        arch (str): 'P5' (4 stages, strides 4..32 after the stride-2 stem)
            or 'P6' (5 stages).
        deepen_factor (float): multiplies each stage's bottleneck count
            (rounded, at least 1).
        widen_factor (float): multiplies every channel count.
        out_indices (Sequence[int]): outputs returned; 0 is the stem,
            i the output of ``stage{i}`` (stride 2**(i+1)).
        frozen_stages (int): -1 nothing, 0 the stem, k the stem and
            ``stage1..k`` (in ``train()``).
        use_depthwise (bool): depthwise-separable 3x3 convs (YOLOX-nano).
        arch_ovewrite (list, optional): replaces the arch table (rows
            [in, out, num_blocks, add_identity, use_spp]); MMDetection's
            spelling.
        spp_kernal_sizes (tuple[int]): SPP pool sizes (MMDetection's
            spelling).
        conv_cfg, norm_cfg, act_cfg (dict): for every ConvModule.
        norm_eval (bool): keep BatchNorms in eval mode while training.
        init_cfg (dict | list): mmcv init config.

    Output: tuple of (B, C_i, H / 2**(i+1), W / 2**(i+1)) for i in
    ``out_indices``, C_i = ``int(out_channels_i * widen_factor)``.
    """

    arch_settings = {
        'P5': [
            [64, 128, 3, True, False],
            [128, 256, 9, True, False],
            [256, 512, 9, True, False],
            [512, 1024, 3, False, True],
        ],
        'P6': [
            [64, 128, 3, True, False],
            [128, 256, 9, True, False],
            [256, 512, 9, True, False],
            [512, 768, 3, True, False],
            [768, 1024, 3, False, True],
        ],
    }

    def __init__(
        self,
        arch='P5',
        deepen_factor=1.0,
        widen_factor=1.0,
        out_indices=(2, 3, 4),
        frozen_stages=-1,
        use_depthwise=False,
        arch_ovewrite=None,
        spp_kernal_sizes=(5, 9, 13),
        conv_cfg=None,
        norm_cfg=CSP_NORM_CFG,
        act_cfg=CSP_ACT_CFG,
        norm_eval=False,
        init_cfg=dict(
            type='Kaiming',
            layer='Conv2d',
            a=math.sqrt(5),
            distribution='uniform',
            mode='fan_in',
            nonlinearity='leaky_relu',
        ),
    ):
        super().__init__(init_cfg)
        check_arg(
            arch in self.arch_settings or arch_ovewrite,
            'CSPDarknet',
            f'arch must be one of {sorted(self.arch_settings)}, got {arch!r}',
        )
        setting = arch_ovewrite or self.arch_settings[arch]
        check_arg(
            set(out_indices) <= set(range(len(setting) + 1)),
            'CSPDarknet',
            f'out_indices {tuple(out_indices)} must lie within '
            f'0..{len(setting)}',
        )
        check_arg(
            -1 <= frozen_stages <= len(setting),
            'CSPDarknet',
            f'frozen_stages must be within -1..{len(setting)}, got '
            f'{frozen_stages}',
        )
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages
        self.use_depthwise = use_depthwise
        self.norm_eval = norm_eval
        cfgs = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.stem = Focus(
            3, int(setting[0][0] * widen_factor), kernel_size=3, **cfgs
        )
        self.layers = ['stem']
        for i, row in enumerate(setting):
            stage = self._make_stage(
                row, deepen_factor, widen_factor, spp_kernal_sizes, cfgs
            )
            self.add_module(f'stage{i + 1}', stage)
            self.layers.append(f'stage{i + 1}')

    def _make_stage(self, row, deepen, widen, spp_sizes, cfgs):
        in_ch, out_ch, num_blocks, add_identity, use_spp = row
        in_ch, out_ch = int(in_ch * widen), int(out_ch * widen)
        conv = conv_module_type(self.use_depthwise)
        layers = [conv(in_ch, out_ch, 3, stride=2, padding=1, **cfgs)]
        if use_spp:
            layers.append(
                SPPBottleneck(out_ch, out_ch, kernel_sizes=spp_sizes, **cfgs)
            )
        layers.append(
            CSPLayer(
                out_ch,
                out_ch,
                num_blocks=max(round(num_blocks * deepen), 1),
                add_identity=add_identity,
                use_depthwise=self.use_depthwise,
                **cfgs,
            )
        )
        return nn.Sequential(*layers)

    def _freeze_stages(self):
        for name in self.layers[: self.frozen_stages + 1]:
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

    def forward(self, x):
        """(B, 3, H, W) -> tuple of the ``out_indices`` outputs."""
        outs = []
        for i, name in enumerate(self.layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
