"""Cells that merge two feature maps (NAS-FPN, NAS-FCOS), with mmcv 1.x's
names (``mmcv.ops.merge_cells``, which needs mmcv-full).

A cell optionally convolves each input (``input1_conv``/``input2_conv``),
resizes both to the output size (nearest/bilinear up, max pool down),
combines them (sum, concatenation, global-pooling attention) and
optionally applies ``out_conv``.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule

from mmdet.utils.arg_errors import check_arg


def _pool_down(x, size):
    """Max pool (B, C, H, W) to ``size``, zero-padding H, W (centred) to
    multiples of it first."""
    (h, w), (th, tw) = x.shape[-2:], size
    pad_h = math.ceil(h / th) * th - h
    pad_w = math.ceil(w / tw) * tw - w
    if pad_h or pad_w:
        x = F.pad(
            x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2)
        )
    kernel = (x.shape[-2] // th, x.shape[-1] // tw)
    return F.max_pool2d(x, kernel_size=kernel, stride=kernel)


class BaseMergeCell(nn.Module):
    """Merge two (B, C, H_i, W_i) maps into one (B, out_channels, *out_size).

    Args:
        fused_channels (int): channels after the binary operation.
        out_channels (int): channels of the output (and of the inputs).
        with_out_conv (bool): apply ``out_conv`` after merging.
        out_conv_cfg (dict): ConvModule arguments of ``out_conv``
            (kernel_size, padding, groups, bias).
        out_norm_cfg (dict): norm of ``out_conv``.
        out_conv_order (tuple): layer order of ``out_conv``.
        with_input1_conv, with_input2_conv (bool): 3x3 conv on each input.
        input_conv_cfg, input_norm_cfg (dict): conv/norm of the input convs.
        upsample_mode (str): 'nearest' or 'bilinear'.
    """

    def __init__(
        self,
        fused_channels=256,
        out_channels=256,
        with_out_conv=True,
        out_conv_cfg=dict(groups=1, kernel_size=3, padding=1, bias=True),
        out_norm_cfg=None,
        out_conv_order=('act', 'conv', 'norm'),
        with_input1_conv=False,
        with_input2_conv=False,
        input_conv_cfg=None,
        input_norm_cfg=None,
        upsample_mode='nearest',
    ):
        super().__init__()
        check_arg(
            upsample_mode in ('nearest', 'bilinear'),
            type(self).__name__,
            f"upsample_mode must be 'nearest' or 'bilinear', got "
            f'{upsample_mode!r}',
        )
        self.with_out_conv = with_out_conv
        self.with_input1_conv = with_input1_conv
        self.with_input2_conv = with_input2_conv
        self.upsample_mode = upsample_mode
        if with_out_conv:
            self.out_conv = ConvModule(
                fused_channels,
                out_channels,
                **out_conv_cfg,
                norm_cfg=out_norm_cfg,
                order=out_conv_order,
            )
        self.input1_conv = self._input_conv(
            with_input1_conv, out_channels, input_conv_cfg, input_norm_cfg
        )
        self.input2_conv = self._input_conv(
            with_input2_conv, out_channels, input_conv_cfg, input_norm_cfg
        )

    @staticmethod
    def _input_conv(enabled, channels, conv_cfg, norm_cfg):
        if not enabled:
            return nn.Sequential()
        return ConvModule(
            channels,
            channels,
            3,
            padding=1,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            bias=True,
        )

    def _binary_op(self, x1, x2):
        raise NotImplementedError

    def _resize(self, x, size):
        if tuple(x.shape[-2:]) == tuple(size):
            return x
        if tuple(x.shape[-2:]) < tuple(size):
            return F.interpolate(x, size=size, mode=self.upsample_mode)
        return _pool_down(x, size)

    def forward(self, x1, x2, out_size=None):
        """``out_size`` (H, W); default: the larger input's size."""
        check_arg(
            x1.shape[:2] == x2.shape[:2],
            type(self).__name__,
            f'inputs differ in batch or channels: {tuple(x1.shape)} vs '
            f'{tuple(x2.shape)}',
        )
        if out_size is None:
            out_size = max(x1.shape[2:], x2.shape[2:])
        x1 = self._resize(self.input1_conv(x1), out_size)
        x2 = self._resize(self.input2_conv(x2), out_size)
        x = self._binary_op(x1, x2)
        return self.out_conv(x) if self.with_out_conv else x


class SumCell(BaseMergeCell):
    """x1 + x2."""

    def __init__(self, in_channels, out_channels, **kwargs):
        super().__init__(in_channels, out_channels, **kwargs)

    def _binary_op(self, x1, x2):
        return x1 + x2


class ConcatCell(BaseMergeCell):
    """Channel concatenation [x1, x2] (2 * in_channels channels)."""

    def __init__(self, in_channels, out_channels, **kwargs):
        super().__init__(in_channels * 2, out_channels, **kwargs)

    def _binary_op(self, x1, x2):
        return torch.cat([x1, x2], dim=1)


class GlobalPoolingCell(BaseMergeCell):
    """x2 + sigmoid(global mean of x2) * x1 (channel attention from x2)."""

    def __init__(self, in_channels=None, out_channels=None, **kwargs):
        super().__init__(in_channels, out_channels, **kwargs)
        self.global_pool = nn.AdaptiveAvgPool2d((1, 1))

    def _binary_op(self, x1, x2):
        return x2 + self.global_pool(x2).sigmoid() * x1
