"""SSD's neck (Liu et al., 2016) with MMDetection 2.x names: the first
level is L2-normalised with a learned per-channel scale (``l2_norm``);
extra levels are 1x1 + strided kxk ConvModules (``extra_layers.i.{0,1}``)
on the last level."""

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, DepthwiseSeparableConvModule
from mmcv.runner import BaseModule

from mmdet.utils.arg_errors import check_arg
from ..builder import NECKS


class L2Norm(nn.Module):
    """x / (||x||_2 over channels + eps) * weight[c], computed in float32.

    Args:
        n_dims (int): channels.
        scale (float): initial value of ``weight`` (SSDNeck's init sets it
            again; filled here too so that an un-initialised model does
            not compute with uninitialised memory).
        eps (float): added to the norm.
    """

    def __init__(self, n_dims, scale=20.0, eps=1e-10):
        super().__init__()
        self.n_dims = n_dims
        self.weight = nn.Parameter(torch.full((n_dims,), float(scale)))
        self.eps = eps
        self.scale = scale

    def forward(self, x):
        xf = x.float()
        norm = xf.pow(2).sum(1, keepdim=True).sqrt() + self.eps
        return (self.weight.float()[None, :, None, None] * xf / norm).type_as(
            x
        )


@NECKS.register_module()
class SSDNeck(BaseModule):
    """SSD neck.

    Args:
        in_channels (list[int]): channels of the backbone outputs.
        out_channels (list[int]): channels of all outputs; starts with
            ``in_channels``.
        level_strides, level_paddings (list[int]): of each extra level's
            second conv.
        l2_norm_scale (float | None): initial L2Norm scale; None: no L2Norm.
        last_kernel_size (int): kernel of the last extra level's second conv
            (the others use 3).
        use_depthwise (bool): second convs are depthwise-separable.
        conv_cfg, norm_cfg, act_cfg (dict): of every ConvModule.

    Input: tuple of (B, in_channels[i], H_i, W_i). Output: one tensor per
    ``out_channels`` entry.
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        level_strides,
        level_paddings,
        l2_norm_scale=20.0,
        last_kernel_size=3,
        use_depthwise=False,
        conv_cfg=None,
        norm_cfg=None,
        act_cfg=dict(type='ReLU'),
        init_cfg=[
            dict(type='Xavier', distribution='uniform', layer='Conv2d'),
            dict(type='Constant', val=1, layer='BatchNorm2d'),
        ],
    ):
        super().__init__(init_cfg)
        num_in = len(in_channels)
        check_arg(
            len(out_channels) > num_in
            and len(out_channels) - num_in == len(level_strides)
            and len(level_strides) == len(level_paddings)
            and list(in_channels) == list(out_channels[:num_in]),
            'SSDNeck',
            'out_channels must start with in_channels and add one entry per '
            'level_strides/level_paddings entry',
        )
        if l2_norm_scale:
            self.l2_norm = L2Norm(in_channels[0], l2_norm_scale)
            self.init_cfg = list(self.init_cfg) + [
                dict(
                    type='Constant',
                    val=self.l2_norm.scale,
                    override=dict(name='l2_norm'),
                )
            ]
        second = DepthwiseSeparableConvModule if use_depthwise else ConvModule
        cfg = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        extra = out_channels[num_in:]
        self.extra_layers = nn.ModuleList()
        for i, (ch, stride, pad) in enumerate(
            zip(extra, level_strides, level_paddings)
        ):
            kernel = last_kernel_size if i == len(extra) - 1 else 3
            self.extra_layers.append(
                nn.Sequential(
                    ConvModule(
                        out_channels[num_in - 1 + i], ch // 2, 1, **cfg
                    ),
                    second(
                        ch // 2, ch, kernel, stride=stride, padding=pad, **cfg
                    ),
                )
            )

    def forward(self, inputs):
        outs = list(inputs)
        if hasattr(self, 'l2_norm'):
            outs[0] = self.l2_norm(outs[0])
        feat = outs[-1]
        for layer in self.extra_layers:
            feat = layer(feat)
            outs.append(feat)
        return tuple(outs)
