"""Deformable convolutions v1 / v2 with mmcv's names, on torchvision.

``DeformConv2dPack`` (conv type ``'DCN'``) and ``ModulatedDeformConv2dPack``
(``'DCNv2'``) have mmcv-full's constructor arguments and state-dict keys
(``weight``, ``bias``, ``conv_offset.weight/bias``), so MMDetection's DCN
checkpoints load. The offsets follow mmcv's layout, which torchvision's
``deform_conv2d`` shares: per deformable group, per kernel point
(row-major), a ``(dy, dx)`` pair. They are registered in mmcv's
``CONV_LAYERS`` only where mmcv-full has not registered its own.
"""

import functools
import math
import warnings

import torch
import torch.nn as nn
from mmcv.cnn import CONV_LAYERS
from torch.nn.modules.utils import _pair
from torchvision.ops import deform_conv2d

from mmdet.utils.arg_errors import check_arg


def _accept_deformable_groups(init):
    """Let ``__init__`` take mmcv's old name ``deformable_groups`` (still in
    some configs) for ``deform_groups``, with a deprecation warning."""

    @functools.wraps(init)
    def wrapper(self, *args, **kwargs):
        if 'deformable_groups' in kwargs:
            warnings.warn(
                'deformable_groups is deprecated, use deform_groups',
                DeprecationWarning,
            )
            kwargs['deform_groups'] = kwargs.pop('deformable_groups')
        init(self, *args, **kwargs)

    return wrapper


class DeformConv2d(nn.Module):
    """Deformable conv taking its offsets as an input (no bias, as mmcv).

    ``forward(x, offset)``: x (B, C_in, H, W), offset (B, deform_groups *
    2 * kh * kw, H_out, W_out) in input pixels -> (B, C_out, H_out, W_out).
    """

    @_accept_deformable_groups
    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
        deform_groups=1,
        bias=False,
        im2col_step=32,
    ):
        super().__init__()
        name = type(self).__name__
        check_arg(not bias, name, f'bias={bias} is not supported; use False')
        self._check_groups(in_channels, out_channels, groups)
        self._set_geometry(
            in_channels, out_channels, kernel_size, stride, padding, dilation
        )
        self.groups, self.deform_groups = groups, deform_groups
        self.im2col_step = im2col_step  # unused: kept for mmcv's signature
        self.weight = nn.Parameter(
            torch.empty(out_channels, in_channels // groups, *self.kernel_size)
        )
        self.reset_parameters()

    def _check_groups(self, in_channels, out_channels, groups):
        check_arg(
            in_channels % groups == 0 and out_channels % groups == 0,
            type(self).__name__,
            f'in_channels {in_channels} and out_channels {out_channels} '
            f'must be divisible by groups {groups}',
        )

    def _set_geometry(
        self, in_channels, out_channels, kernel_size, stride, padding, dilation
    ):
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _pair(kernel_size)
        self.stride, self.padding = _pair(stride), _pair(padding)
        self.dilation = _pair(dilation)
        # attributes code written for nn.Conv2d reads
        self.transposed, self.output_padding = False, (0,)

    def reset_parameters(self):
        nn.init.kaiming_uniform_(self.weight, nonlinearity='relu')

    def _deform(self, x, offset, bias=None, mask=None):
        return deform_conv2d(
            x,
            offset,
            self.weight,
            bias,
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            mask=mask,
        )

    def forward(self, x, offset):
        return self._deform(x, offset)

    def extra_repr(self):
        return (
            f'{self.in_channels}, {self.out_channels}, '
            f'kernel_size={self.kernel_size}, stride={self.stride}, '
            f'padding={self.padding}, dilation={self.dilation}, '
            f'groups={self.groups}, deform_groups={self.deform_groups}'
        )


def _make_conv_offset(conv, per_point):
    """The zero-initialised conv predicting ``per_point`` values (2 offsets,
    plus a mask logit for v2) per kernel point and deformable group."""
    kh, kw = conv.kernel_size
    layer = nn.Conv2d(
        conv.in_channels,
        conv.deform_groups * per_point * kh * kw,
        kernel_size=conv.kernel_size,
        stride=conv.stride,
        padding=conv.padding,
        dilation=conv.dilation,
        bias=True,
    )
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def _rename_old_offset_keys(state_dict, prefix):
    """Checkpoints before mmcv's version 2 of these layers stored the offset
    conv as the sibling ``<name>_offset``; move it to ``conv_offset``."""
    for kind in ('weight', 'bias'):
        new, old = (
            f'{prefix}conv_offset.{kind}',
            f'{prefix[:-1]}_offset.{kind}',
        )
        if new not in state_dict and old in state_dict:
            state_dict[new] = state_dict.pop(old)


class _OffsetPack:
    """What both packs share: version-2 state dicts with ``conv_offset``."""

    _version = 2

    def init_offset(self):
        nn.init.zeros_(self.conv_offset.weight)
        nn.init.zeros_(self.conv_offset.bias)

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, *args, **kwargs
    ):
        if (local_metadata.get('version') or 0) < 2:
            _rename_old_offset_keys(state_dict, prefix)
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, *args, **kwargs
        )


class DeformConv2dPack(_OffsetPack, DeformConv2d):
    """DCN v1 usable as a conv layer: ``conv_offset`` (same kernel, stride,
    padding and dilation) predicts the offsets from the input.
    (B, C_in, H, W) -> (B, C_out, H_out, W_out)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.conv_offset = _make_conv_offset(self, 2)

    def forward(self, x):
        return self._deform(x, self.conv_offset(x))


class ModulatedDeformConv2d(DeformConv2d):
    """Deformable conv v2: each sample is also scaled by a mask in [0, 1].

    ``forward(x, offset, mask)``: offset as ``DeformConv2d``'s, mask
    (B, deform_groups * kh * kw, H_out, W_out).
    """

    @_accept_deformable_groups
    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
        deform_groups=1,
        bias=True,
    ):
        nn.Module.__init__(self)
        self._check_groups(in_channels, out_channels, groups)
        self._set_geometry(
            in_channels, out_channels, kernel_size, stride, padding, dilation
        )
        self.groups, self.deform_groups = groups, deform_groups
        self.weight = nn.Parameter(
            torch.empty(out_channels, in_channels // groups, *self.kernel_size)
        )
        if bias:
            self.bias = nn.Parameter(torch.empty(out_channels))
        else:
            self.register_parameter('bias', None)
        self.init_weights()

    def init_weights(self):
        """Uniform in +-1/sqrt(C_in * kh * kw), zero bias (mmcv's)."""
        bound = 1.0 / math.sqrt(self.in_channels * math.prod(self.kernel_size))
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def reset_parameters(self):
        self.init_weights()

    def forward(self, x, offset, mask):
        return self._deform(x, offset, self.bias, mask)


class ModulatedDeformConv2dPack(_OffsetPack, ModulatedDeformConv2d):
    """DCN v2 usable as a conv layer: ``conv_offset`` predicts, per
    deformable group and kernel point, 2 offsets (the first two thirds of
    its channels) and a mask logit (the last third, through a sigmoid).
    (B, C_in, H, W) -> (B, C_out, H_out, W_out)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.conv_offset = _make_conv_offset(self, 3)

    def init_weights(self):
        super().init_weights()
        if hasattr(self, 'conv_offset'):
            self.init_offset()

    def forward(self, x):
        out = self.conv_offset(x)
        num_offsets = out.size(1) * 2 // 3
        offset, mask = out[:, :num_offsets], out[:, num_offsets:]
        return self._deform(x, offset, self.bias, mask.sigmoid())


def _register_if_missing(name, cls):
    """Register ``cls`` as conv type ``name`` unless mmcv-full did."""
    if name not in CONV_LAYERS.module_dict:
        CONV_LAYERS.register_module(name, module=cls)


_register_if_missing('DCN', DeformConv2dPack)
_register_if_missing('DCNv2', ModulatedDeformConv2dPack)
