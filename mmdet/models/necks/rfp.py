"""Recursive Feature Pyramid of DetectoRS (MMDetection 2.x names).

An FPN whose outputs are fed back: for each of ``rfp_steps - 1`` extra
steps, ``rfp_aspp`` turns the pyramid levels 1.. into feedback features,
a second backbone (``rfp_modules[i]``, a ``DetectoRS_ResNet`` with
``rfp_inplanes``) reruns on the image with them, the FPN (same weights)
runs on its outputs, and each level is blended with the previous one by
a per-pixel weight sigmoid(rfp_weight(new)).
"""

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.runner import BaseModule

from mmdet.utils.arg_errors import InvalidArgumentError, check_arg
from ..builder import NECKS, build_backbone
from .fpn import FPN


class ASPP(BaseModule):
    """Atrous spatial pyramid pooling: one branch per dilation (1x1 conv
    for dilation 1, else 3x3 dilated), the last on the global average, all
    with ReLU, concatenated: (B, C, H, W) -> (B, 4 * out_channels, H, W).
    """

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
                bias=True,
            )
            for d in dilations
        )
        self.gap = nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        outs = [F.relu(conv(x)) for conv in self.aspp[:-1]]
        pooled = F.relu(self.aspp[-1](self.gap(x)))
        outs.append(pooled.expand_as(outs[-1]))
        return torch.cat(outs, dim=1)


@NECKS.register_module()
class RFP(FPN):
    """RFP neck.

    Args (MMDetection 2.28's):
        rfp_steps (int): unrolled steps (2 in DetectoRS: one feedback).
        rfp_backbone (dict): config of the feedback backbones.
        aspp_out_channels (int): channels of each ASPP branch; 4 x this
            must equal the backbone's ``rfp_inplanes``.
        aspp_dilations (tuple[int]): ASPP branch dilations.
        init_cfg: must be None (initialisation is fixed, see
            ``init_weights``).
        **kwargs: ``FPN``'s arguments.

    Input: (image (B, 3, H, W), *backbone levels), i.e. the backbone's
    outputs with ``output_img=True``. Output: list of ``num_outs`` levels
    (B, out_channels, H_i, W_i), as FPN's.
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
            'init_cfg must be None (RFP initialises its parts itself)',
        )
        super().__init__(init_cfg=None, **kwargs)
        self.rfp_steps = rfp_steps
        self.rfp_modules = nn.ModuleList(
            build_backbone(rfp_backbone) for _ in range(1, rfp_steps)
        )
        self.rfp_aspp = ASPP(
            self.out_channels, aspp_out_channels, aspp_dilations
        )
        self.rfp_weight = nn.Conv2d(self.out_channels, 1, 1, bias=True)

    def init_weights(self):
        """Xavier-uniform FPN convs, each feedback backbone's own
        initialisation (its ``pretrained`` checkpoint), Kaiming ASPP and a
        zero ``rfp_weight`` (equal blend at the start)."""
        for convs in (self.lateral_convs, self.fpn_convs):
            for m in convs.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.xavier_uniform_(m.weight)
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)
        for module in self.rfp_modules:
            module.init_weights()
        self.rfp_aspp.init_weights()
        nn.init.zeros_(self.rfp_weight.weight)
        nn.init.zeros_(self.rfp_weight.bias)

    def forward(self, inputs):
        inputs = list(inputs)
        if len(inputs) != len(self.in_channels) + 1:
            raise InvalidArgumentError(
                f'RFP expects the image and {len(self.in_channels)} levels '
                f'(backbone output_img=True), got {len(inputs)} inputs'
            )
        img = inputs.pop(0)
        x = super().forward(tuple(inputs))
        for backbone in self.rfp_modules:
            feedback = [x[0]] + [self.rfp_aspp(level) for level in x[1:]]
            x_new = super().forward(backbone.rfp_forward(img, feedback))
            x = [self._blend(new, old) for new, old in zip(x_new, x)]
        return x

    def _blend(self, new, old):
        weight = torch.sigmoid(self.rfp_weight(new))
        return weight * new + (1 - weight) * old
