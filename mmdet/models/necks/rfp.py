"""Recursive Feature Pyramid (DetectoRS, Qiao et al., 2021) with
MMDetection 2.x names.

An FPN whose outputs are fed back ``rfp_steps - 1`` times: each coarser
level through ASPP (``rfp_aspp``) into another backbone
(``rfp_modules.i``, a DetectoRS_ResNet's ``rfp_forward``), the new FPN
outputs blended with the old by a learned sigmoid gate (``rfp_weight``).
"""

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import constant_init, xavier_init
from mmcv.runner import BaseModule, ModuleList

from mmdet.utils.arg_errors import check_arg
from ..builder import NECKS, build_backbone
from .fpn import FPN


class ASPP(BaseModule):
    """Atrous spatial pyramid pooling: one conv per dilation (1x1 for
    dilation 1, else dilated 3x3), the last on the global mean; ReLU, then
    concatenated. (B, in, H, W) -> (B, len(dilations) * out, H, W)."""

    def __init__(
        self,
        in_channels,
        out_channels,
        dilations=(1, 3, 6, 1),
        init_cfg=dict(type='Kaiming', layer='Conv2d'),
    ):
        super().__init__(init_cfg)
        check_arg(
            dilations[-1] == 1,
            'ASPP',
            f'the last (global) branch needs dilation 1, got {dilations}',
        )
        self.aspp = nn.ModuleList(
            nn.Conv2d(
                in_channels,
                out_channels,
                kernel_size=3 if d > 1 else 1,
                dilation=d,
                padding=d if d > 1 else 0,
            )
            for d in dilations
        )
        self.gap = nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        branches = [F.relu(conv(x)) for conv in self.aspp[:-1]]
        pooled = F.relu(self.aspp[-1](self.gap(x)))
        branches.append(pooled.expand_as(branches[-1]))
        return torch.cat(branches, dim=1)


@NECKS.register_module()
class RFP(FPN):
    """RFP neck: FPN's arguments plus

    Args:
        rfp_steps (int): passes through the backbone (the first is the
            detector's own).
        rfp_backbone (dict): config of each further backbone (one with
            ``rfp_forward(img, rfp_feats)``, i.e. DetectoRS_ResNet).
        aspp_out_channels (int): channels of each ASPP branch.
        aspp_dilations (tuple[int]): ASPP dilations.
        init_cfg: must be None (the initialisation is fixed).

    Input: (img, *backbone levels) (the backbone's ``output_img=True``).
    Output: FPN's levels after the last step.
    """

    def __init__(
        self,
        rfp_steps,
        rfp_backbone,
        aspp_out_channels,
        aspp_dilations=(1, 3, 6, 1),
        init_cfg=None,
        **kwargs,
    ):
        check_arg(
            init_cfg is None,
            'RFP',
            'init_cfg must be None (the initialisation is fixed)',
        )
        super().__init__(init_cfg=init_cfg, **kwargs)
        self.rfp_steps = rfp_steps
        self.rfp_modules = ModuleList(
            build_backbone(rfp_backbone) for _ in range(1, rfp_steps)
        )
        self.rfp_aspp = ASPP(
            self.out_channels, aspp_out_channels, aspp_dilations
        )
        self.rfp_weight = nn.Conv2d(self.out_channels, 1, 1)

    def init_weights(self):
        for convs in (self.lateral_convs, self.fpn_convs):
            for m in convs.modules():
                if isinstance(m, nn.Conv2d):
                    xavier_init(m, distribution='uniform')
        for module in self.rfp_modules:
            module.init_weights()
        constant_init(self.rfp_weight, 0)

    def forward(self, inputs):
        check_arg(
            len(inputs) == len(self.in_channels) + 1,
            'RFP',
            'expects the image followed by one map per in_channels entry',
        )
        img, feats = inputs[0], tuple(inputs[1:])
        x = super().forward(feats)
        for module in self.rfp_modules:
            rfp_feats = [x[0]] + [self.rfp_aspp(level) for level in x[1:]]
            x_new = super().forward(module.rfp_forward(img, rfp_feats))
            gates = [torch.sigmoid(self.rfp_weight(f)) for f in x_new]
            x = [g * f + (1 - g) * old for g, f, old in zip(gates, x_new, x)]
        return x
