"""Path Aggregation FPN (Liu et al., 2018) with MMDetection 2.x names.

FPN's top-down pass, then a bottom-up pass: each finer output, downsampled
by a strided 3x3 conv, is added to the next coarser one and smoothed by a
3x3 conv. Parameters beyond FPN's: ``downsample_convs.i.conv.*`` and
``pafpn_convs.i.conv.*`` (one per used level above the first).
"""

import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule

from mmdet.utils.arg_errors import InvalidArgumentError
from ..builder import NECKS
from .fpn import FPN


@NECKS.register_module()
class PAFPN(FPN):
    """PAFPN neck: the arguments of :class:`FPN` (without
    ``upsample_cfg``: the top-down pass is nearest to the finer size).

    Input: tuple of (B, in_channels[i], H_i, W_i). Output: tuple of
    ``num_outs`` tensors (B, out_channels, H_i, W_i).
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        num_outs,
        start_level=0,
        end_level=-1,
        add_extra_convs=False,
        relu_before_extra_convs=False,
        no_norm_on_lateral=False,
        conv_cfg=None,
        norm_cfg=None,
        act_cfg=None,
        init_cfg=dict(type='Xavier', layer='Conv2d', distribution='uniform'),
    ):
        super().__init__(
            in_channels,
            out_channels,
            num_outs,
            start_level,
            end_level,
            add_extra_convs,
            relu_before_extra_convs,
            no_norm_on_lateral,
            conv_cfg,
            norm_cfg,
            act_cfg,
            init_cfg=init_cfg,
        )
        conv_args = dict(
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
            inplace=False,
        )
        self.downsample_convs = nn.ModuleList()
        self.pafpn_convs = nn.ModuleList()
        for _ in range(self.start_level + 1, self.backbone_end_level):
            self.downsample_convs.append(
                ConvModule(
                    out_channels,
                    out_channels,
                    3,
                    stride=2,
                    padding=1,
                    **conv_args,
                )
            )
            self.pafpn_convs.append(
                ConvModule(
                    out_channels, out_channels, 3, padding=1, **conv_args
                )
            )

    def forward(self, inputs):
        if len(inputs) != len(self.in_channels):
            raise InvalidArgumentError(
                f'PAFPN expects {len(self.in_channels)} inputs, got '
                f'{len(inputs)}'
            )
        laterals = [
            conv(inputs[i + self.start_level])
            for i, conv in enumerate(self.lateral_convs)
        ]
        for i in range(len(laterals) - 1, 0, -1):
            laterals[i - 1] = laterals[i - 1] + F.interpolate(
                laterals[i], size=laterals[i - 1].shape[2:], mode='nearest'
            )
        used = len(laterals)
        inter = [self.fpn_convs[i](laterals[i]) for i in range(used)]
        for i in range(used - 1):
            inter[i + 1] = inter[i + 1] + self.downsample_convs[i](inter[i])
        outs = [inter[0]] + [
            self.pafpn_convs[i - 1](inter[i]) for i in range(1, used)
        ]
        return tuple(self._extra_levels(inputs, laterals, outs))
