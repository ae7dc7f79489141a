"""HRNet's feature pyramid (HRFPN, Sun et al., 2019) with MMDetection 2.x
names: all inputs are bilinearly upsampled to the finest size,
concatenated and reduced by a 1x1 conv (``reduction_conv``); the levels
are that map pooled by 2**i, each through a 3x3 ``fpn_convs.i``."""

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmcv.runner import BaseModule
from torch.utils.checkpoint import checkpoint

from mmdet.utils.arg_errors import InvalidArgumentTypeError, check_arg
from ..builder import NECKS


@NECKS.register_module()
class HRFPN(BaseModule):
    """HRFPN neck.

    Args:
        in_channels (list[int]): channels of each HRNet branch (each level
            half the size of the previous).
        out_channels (int): channels of every output.
        num_outs (int): output levels.
        pooling_type (str): 'MAX' or 'AVG' (any other value) pooling.
        conv_cfg (dict): conv of every ConvModule.
        norm_cfg (dict): kept for config compatibility (MMDetection does not
            use it either: the convs have no norm).
        with_cp (bool): gradient checkpointing of the convs.
        stride (int): stride of the 3x3 output convs.

    Input: tuple of (B, in_channels[i], H / 2**i, W / 2**i). Output:
    ``num_outs`` tensors (B, out_channels, H / 2**i, W / 2**i) (with
    stride 1).
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
        if not isinstance(in_channels, list):
            raise InvalidArgumentTypeError(
                f'HRFPN: in_channels must be a list, got {in_channels!r}'
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_ins = len(in_channels)
        self.num_outs = num_outs
        self.with_cp = with_cp
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.reduction_conv = ConvModule(
            sum(in_channels), out_channels, 1, conv_cfg=conv_cfg, act_cfg=None
        )
        self.fpn_convs = nn.ModuleList(
            ConvModule(
                out_channels,
                out_channels,
                3,
                padding=1,
                stride=stride,
                conv_cfg=conv_cfg,
                act_cfg=None,
            )
            for _ in range(num_outs)
        )
        self.pooling = F.max_pool2d if pooling_type == 'MAX' else F.avg_pool2d

    def _run(self, layer, x):
        if self.with_cp and x.requires_grad:
            return checkpoint(layer, x, use_reentrant=False)
        return layer(x)

    def forward(self, inputs):
        check_arg(
            len(inputs) == self.num_ins,
            'HRFPN',
            f'expects {self.num_ins} inputs, got {len(inputs)}',
        )
        upsampled = [inputs[0]] + [
            F.interpolate(
                x, scale_factor=2**i, mode='bilinear', align_corners=False
            )
            for i, x in enumerate(inputs[1:], start=1)
        ]
        out = self._run(self.reduction_conv, torch.cat(upsampled, dim=1))
        levels = [out] + [
            self.pooling(out, kernel_size=2**i, stride=2**i)
            for i in range(1, self.num_outs)
        ]
        return tuple(
            self._run(conv, x) for conv, x in zip(self.fpn_convs, levels)
        )
