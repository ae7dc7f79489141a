"""ChannelMapper (DETR-family necks) with MMDetection 2.x names: one
ConvModule per input level (``convs.i``) maps it to ``out_channels``;
extra levels are strided 3x3 ConvModules (``extra_convs.i``), the first on
the last input, the next ones on the previous output."""

import torch.nn as nn
from mmcv.cnn import ConvModule
from mmcv.runner import BaseModule

from mmdet.utils.arg_errors import InvalidArgumentTypeError, check_arg
from ..builder import NECKS


@NECKS.register_module()
class ChannelMapper(BaseModule):
    """Map every level to ``out_channels``.

    Args:
        in_channels (list[int]): channels of each input.
        out_channels (int): channels of every output.
        kernel_size (int): kernel of the mapping convs (same padding).
        conv_cfg, norm_cfg, act_cfg (dict): of every ConvModule.
        bias (bool | str): ConvModule's ``bias`` ('auto': no bias with norm).
        num_outs (int | None): outputs (default len(in_channels)); more add
            extra strided convs.

    Input: tuple of (B, in_channels[i], H_i, W_i). Output: ``num_outs``
    tensors (B, out_channels, H_i, W_i).
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size=3,
        conv_cfg=None,
        norm_cfg=None,
        act_cfg=dict(type='ReLU'),
        bias='auto',
        num_outs=None,
        init_cfg=dict(type='Xavier', layer='Conv2d', distribution='uniform'),
    ):
        super().__init__(init_cfg=init_cfg)
        if not isinstance(in_channels, list):
            raise InvalidArgumentTypeError(
                f'ChannelMapper: in_channels must be a list, got '
                f'{in_channels!r}'
            )
        num_outs = len(in_channels) if num_outs is None else num_outs
        cfg = dict(
            conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg, bias=bias
        )
        self.convs = nn.ModuleList(
            ConvModule(
                c,
                out_channels,
                kernel_size,
                padding=(kernel_size - 1) // 2,
                **cfg,
            )
            for c in in_channels
        )
        self.extra_convs = None
        if num_outs > len(in_channels):
            sources = [in_channels[-1]] + [out_channels] * (
                num_outs - len(in_channels) - 1
            )
            self.extra_convs = nn.ModuleList(
                ConvModule(c, out_channels, 3, stride=2, padding=1, **cfg)
                for c in sources
            )

    def forward(self, inputs):
        check_arg(
            len(inputs) == len(self.convs),
            'ChannelMapper',
            f'expects {len(self.convs)} inputs, got {len(inputs)}',
        )
        outs = [conv(x) for conv, x in zip(self.convs, inputs)]
        for i, conv in enumerate(self.extra_convs or []):
            outs.append(conv(inputs[-1] if i == 0 else outs[-1]))
        return tuple(outs)
