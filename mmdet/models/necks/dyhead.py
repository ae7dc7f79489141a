"""Dynamic Head (Dai et al., 2021) as a neck, with MMDetection 2.x names.

Each DyHeadBlock attends per level: spatial-aware (modulated deformable
3x3 convs on the level and its neighbours, offsets and masks from
``spatial_conv_offset``), scale-aware (``scale_attn_module``, a gate from
the global mean) and task-aware (DyReLU, ``task_attn_module``).
"""

import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import (
    build_activation_layer,
    build_norm_layer,
    constant_init,
    normal_init,
)
from mmcv.runner import BaseModule

from mmdet.utils.arg_errors import check_arg
from ..builder import NECKS
from ..utils.deform_conv import ModulatedDeformConv2d
from ..utils.se_layer import DyReLU


class DyModulatedDeformConv2d(ModulatedDeformConv2d):
    """The DCNv2 layer of ``mmdet.models.utils.deform_conv`` (mmcv's
    ``weight`` / ``bias``, offsets (dy, dx) per kernel point, row-major)
    that also takes offsets and masks computed at a finer level, read as
    mmcv's kernel reads them (see ``_as_output_grid``).

    forward(x (B, in, H, W), offset (B, 2*k*k, H', W'), mask
    (B, k*k, H', W')) -> (B, out, h, w), h, w the conv's output size.
    """

    def forward(self, x, offset, mask):
        h, w = (
            (size + 2 * pad - dil * (k - 1) - 1) // stride + 1
            for size, pad, dil, k, stride in zip(
                x.shape[-2:],
                self.padding,
                self.dilation,
                self.kernel_size,
                self.stride,
            )
        )
        return super().forward(
            x, _as_output_grid(offset, h, w), _as_output_grid(mask, h, w)
        )


def _as_output_grid(t, h, w):
    """(B, C, H', W') -> (B, C, h, w) read from the same memory.

    DyHead's coarser level gets offsets computed at the finer size; mmcv's
    kernel reads each sample's offset buffer as if it had the output size,
    and pretrained DyHead weights were trained with that reading.
    """
    if t.shape[-2:] == (h, w):
        return t
    b, c = t.shape[:2]
    return t.contiguous().flatten(1)[:, : c * h * w].view(b, c, h, w)


class DyDCNv2(nn.Module):
    """ModulatedDeformConv2d 3x3 (``conv``) then an optional norm
    (``norm``, GN with 16 groups by default; bias only without norm)."""

    def __init__(
        self,
        in_channels,
        out_channels,
        stride=1,
        norm_cfg=dict(type='GN', num_groups=16, requires_grad=True),
    ):
        super().__init__()
        self.with_norm = norm_cfg is not None
        self.conv = DyModulatedDeformConv2d(
            in_channels,
            out_channels,
            3,
            stride=stride,
            padding=1,
            bias=not self.with_norm,
        )
        if self.with_norm:
            self.norm = build_norm_layer(norm_cfg, out_channels)[1]

    def forward(self, x, offset, mask):
        x = self.conv(x.contiguous(), offset.contiguous(), mask)
        return self.norm(x) if self.with_norm else x


class DyHeadBlock(nn.Module):
    """One DyHead block over all levels (list of (B, C, H_i, W_i), each
    level half the size of the previous) -> list of (B, out, H_i, W_i)."""

    def __init__(
        self,
        in_channels,
        out_channels,
        zero_init_offset=True,
        act_cfg=dict(type='HSigmoid', bias=3.0, divisor=6.0),
    ):
        super().__init__()
        self.zero_init_offset = zero_init_offset
        self.offset_and_mask_dim = 3 * 3 * 3
        self.offset_dim = 2 * 3 * 3
        self.spatial_conv_high = DyDCNv2(in_channels, out_channels)
        self.spatial_conv_mid = DyDCNv2(in_channels, out_channels)
        self.spatial_conv_low = DyDCNv2(in_channels, out_channels, stride=2)
        self.spatial_conv_offset = nn.Conv2d(
            in_channels, self.offset_and_mask_dim, 3, padding=1
        )
        self.scale_attn_module = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(out_channels, 1, 1),
            nn.ReLU(inplace=True),
            build_activation_layer(act_cfg),
        )
        self.task_attn_module = DyReLU(out_channels)
        self._init_weights()

    def _init_weights(self):
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                normal_init(m, 0, 0.01)
        if self.zero_init_offset:
            constant_init(self.spatial_conv_offset, 0)

    def _scaled(self, feat):
        return feat * self.scale_attn_module(feat)

    def forward(self, x):
        outs = []
        for level, feat in enumerate(x):
            offset_and_mask = self.spatial_conv_offset(feat)
            offset = offset_and_mask[:, : self.offset_dim]
            mask = offset_and_mask[:, self.offset_dim :].sigmoid()
            mixed = [self._scaled(self.spatial_conv_mid(feat, offset, mask))]
            if level > 0:
                low = self.spatial_conv_low(x[level - 1], offset, mask)
                mixed.append(self._scaled(low))
            if level < len(x) - 1:
                high = F.interpolate(
                    self.spatial_conv_high(x[level + 1], offset, mask),
                    size=feat.shape[-2:],
                    mode='bilinear',
                    align_corners=True,
                )
                mixed.append(self._scaled(high))
            outs.append(self.task_attn_module(sum(mixed) / len(mixed)))
        return outs


@NECKS.register_module()
class DyHead(BaseModule):
    """DyHead neck: ``num_blocks`` DyHeadBlocks (``dyhead_blocks.i``).

    Args:
        in_channels (int): channels of every input level.
        out_channels (int): channels of every output level.
        num_blocks (int): stacked blocks.
        zero_init_offset (bool): offsets start at zero.
        init_cfg: must be None (the blocks initialise themselves).

    Input: tuple of (B, in_channels, H_i, W_i). Output: tuple of
    (B, out_channels, H_i, W_i).
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        num_blocks=6,
        zero_init_offset=True,
        init_cfg=None,
    ):
        check_arg(
            init_cfg is None,
            'DyHead',
            'init_cfg must be None (the blocks initialise themselves)',
        )
        super().__init__(init_cfg=init_cfg)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_blocks = num_blocks
        self.zero_init_offset = zero_init_offset
        self.dyhead_blocks = nn.Sequential(
            *(
                DyHeadBlock(
                    in_channels if i == 0 else out_channels,
                    out_channels,
                    zero_init_offset=zero_init_offset,
                )
                for i in range(num_blocks)
            )
        )

    def forward(self, inputs):
        check_arg(
            isinstance(inputs, (tuple, list)),
            'DyHead',
            'expects a tuple or list of feature maps',
        )
        return tuple(self.dyhead_blocks(inputs))
