"""HRFPN (Wang et al., 2019): HRNet's branches upsampled to the finest one,
concatenated, reduced by a 1x1 conv, then pooled into a pyramid, each level
smoothed by a 3x3 conv. MMDetection 2.x's arguments and names
(``reduction_conv.conv.*``, ``fpn_convs.i.conv.*``)."""

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn import ConvModule
from mmcv.runner import BaseModule

from mmdet.utils.arg_errors import InvalidArgumentError, check_arg
from ..builder import NECKS


@NECKS.register_module()
class HRFPN(BaseModule):
    """HRFPN neck.

    Args:
        in_channels (list[int]): channels of each HRNet branch.
        out_channels (int): channels of every pyramid level.
        num_outs (int): number of levels (level k pools the reduced map
            by 2**k).
        pooling_type (str): 'AVG' or 'MAX'.
        conv_cfg (dict, optional): conv layer config of both convs.
        norm_cfg (dict, optional): accepted and unused, as in MMDetection
            2.28 (its convs have a bias and no norm).
        with_cp (bool): activation checkpointing of the convs.
        stride (int): stride of the 3x3 convs.

    Input: branches (B, in_channels[i], H / 2**i, W / 2**i). Output: tuple of
    ``num_outs`` tensors (B, out_channels, H / 2**k, W / 2**k) (stride 1).
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        num_outs=5,
        pooling_type='AVG',
        conv_cfg=None,
        norm_cfg=None,
        with_cp=False,
        stride=1,
        init_cfg=dict(type='Caffe2Xavier', layer='Conv2d'),
    ):
        super().__init__(init_cfg)
        check_arg(
            isinstance(in_channels, list),
            'HRFPN',
            f'in_channels must be a list, got {in_channels!r}',
        )
        check_arg(
            pooling_type in ('AVG', 'MAX'),
            'HRFPN',
            f"pooling_type must be 'AVG' or 'MAX', got {pooling_type!r}",
        )
        self.in_channels, self.out_channels = in_channels, out_channels
        self.num_ins, self.num_outs = len(in_channels), num_outs
        self.with_cp = with_cp
        self.conv_cfg, self.norm_cfg = conv_cfg, norm_cfg
        self.reduction_conv = ConvModule(
            sum(in_channels),
            out_channels,
            kernel_size=1,
            conv_cfg=conv_cfg,
            act_cfg=None,
        )
        self.fpn_convs = nn.ModuleList(
            ConvModule(
                out_channels,
                out_channels,
                kernel_size=3,
                padding=1,
                stride=stride,
                conv_cfg=conv_cfg,
                act_cfg=None,
            )
            for _ in range(num_outs)
        )
        self.pooling = F.max_pool2d if pooling_type == 'MAX' else F.avg_pool2d

    def _run(self, module, x):
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(module, x, use_reentrant=False)
        return module(x)

    def forward(self, inputs):
        if len(inputs) != self.num_ins:
            raise InvalidArgumentError(
                f'HRFPN expects {self.num_ins} inputs, got {len(inputs)}'
            )
        size = inputs[0].shape[2:]
        # bilinear to the finest size: the same as scale factor 2**i when
        # the sizes divide, and defined when they do not
        ups = [inputs[0]] + [
            F.interpolate(x, size=size, mode='bilinear') for x in inputs[1:]
        ]
        out = self._run(self.reduction_conv, torch.cat(ups, dim=1))
        levels = [out] + [
            self.pooling(out, kernel_size=2**k, stride=2**k)
            for k in range(1, self.num_outs)
        ]
        return tuple(
            self._run(conv, x) for conv, x in zip(self.fpn_convs, levels)
        )
