"""YOLOX's PAFPN (Ge et al., 2021) with MMDetection 2.x names.

Top-down: the coarser map is reduced by a 1x1 conv (``reduce_layers``),
upsampled, concatenated to the finer input and fused by a CSP layer
(``top_down_blocks``); bottom-up: a strided 3x3 conv (``downsamples``),
concatenation and a CSP layer (``bottom_up_blocks``; the CSP layers are
``mmdet.models.utils.CSPLayer`` without identity); 1x1 ``out_convs``
set every level to ``out_channels``.
"""

import math

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, DepthwiseSeparableConvModule
from mmcv.runner import BaseModule

from mmdet.utils.arg_errors import check_arg
from ..builder import NECKS
from ..utils.csp_layer import CSPLayer


@NECKS.register_module()
class YOLOXPAFPN(BaseModule):
    """YOLOX PAFPN neck.

    Args:
        in_channels (list[int]): channels of each input, fine to coarse.
        out_channels (int): channels of every output.
        num_csp_blocks (int): bottlenecks per CSP layer.
        use_depthwise (bool): depthwise-separable 3x3 convs.
        upsample_cfg (dict): ``nn.Upsample`` arguments.
        conv_cfg, norm_cfg, act_cfg (dict): of every ConvModule.

    Input: tuple of (B, in_channels[i], H_i, W_i), each level half the
    size of the previous. Output: tuple of (B, out_channels, H_i, W_i).
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        num_csp_blocks=3,
        use_depthwise=False,
        upsample_cfg=dict(scale_factor=2, mode='nearest'),
        conv_cfg=None,
        norm_cfg=dict(type='BN', momentum=0.03, eps=0.001),
        act_cfg=dict(type='Swish'),
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
        self.in_channels = in_channels
        self.out_channels = out_channels
        cfg = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        conv = DepthwiseSeparableConvModule if use_depthwise else ConvModule
        self.upsample = nn.Upsample(**upsample_cfg)

        def csp(in_ch, out_ch):
            return CSPLayer(
                in_ch,
                out_ch,
                num_blocks=num_csp_blocks,
                add_identity=False,
                use_depthwise=use_depthwise,
                **cfg,
            )

        self.reduce_layers = nn.ModuleList()
        self.top_down_blocks = nn.ModuleList()
        for idx in range(len(in_channels) - 1, 0, -1):
            fine = in_channels[idx - 1]
            self.reduce_layers.append(
                ConvModule(in_channels[idx], fine, 1, **cfg)
            )
            self.top_down_blocks.append(csp(fine * 2, fine))
        self.downsamples = nn.ModuleList()
        self.bottom_up_blocks = nn.ModuleList()
        for idx in range(len(in_channels) - 1):
            ch = in_channels[idx]
            self.downsamples.append(
                conv(ch, ch, 3, stride=2, padding=1, **cfg)
            )
            self.bottom_up_blocks.append(csp(ch * 2, in_channels[idx + 1]))
        self.out_convs = nn.ModuleList(
            ConvModule(ch, out_channels, 1, **cfg) for ch in in_channels
        )

    def forward(self, inputs):
        check_arg(
            len(inputs) == len(self.in_channels),
            'YOLOXPAFPN',
            f'expects {len(self.in_channels)} inputs, got {len(inputs)}',
        )
        # top-down, coarse to fine; each reduced coarse map is kept
        inner = [inputs[-1]]
        for i, idx in enumerate(range(len(inputs) - 1, 0, -1)):
            coarse = self.reduce_layers[i](inner[0])
            inner[0] = coarse
            fused = torch.cat([self.upsample(coarse), inputs[idx - 1]], 1)
            inner.insert(0, self.top_down_blocks[i](fused))
        outs = [inner[0]]
        for idx in range(len(inputs) - 1):
            down = self.downsamples[idx](outs[-1])
            outs.append(
                self.bottom_up_blocks[idx](
                    torch.cat([down, inner[idx + 1]], 1)
                )
            )
        return tuple(conv(x) for conv, x in zip(self.out_convs, outs))
