"""Channel-attention blocks with MMDetection 2.28's names: ``SELayer``
(squeeze-and-excitation, Hu et al., 2018; ``conv1.conv``, ``conv2.conv``,
both with bias) and ``DyReLU`` (DyHead's task-aware attention)."""

import torch
from mmcv.cnn import ConvModule
from mmcv.runner import BaseModule
from torch import nn
from torch.nn import functional as F

from mmdet.utils.arg_errors import check_arg


class SELayer(BaseModule):
    """x * act2(conv2(act1(conv1(mean_hw(x))))), squeezing to
    ``int(channels / ratio)`` channels.

    Args:
        channels (int): input and output channels.
        ratio (float): squeeze ratio.
        conv_cfg (dict, optional): conv layer config.
        act_cfg (dict | tuple[dict]): the two activations (one dict: both).

    (B, C, H, W) -> (B, C, H, W).
    """

    def __init__(
        self,
        channels,
        ratio=16,
        conv_cfg=None,
        act_cfg=(dict(type='ReLU'), dict(type='Sigmoid')),
        init_cfg=None,
    ):
        super().__init__(init_cfg)
        if isinstance(act_cfg, dict):
            act_cfg = (act_cfg, act_cfg)
        check_arg(
            len(act_cfg) == 2 and all(isinstance(a, dict) for a in act_cfg),
            'SELayer',
            f'act_cfg must be a dict or two dicts, got {act_cfg!r}',
        )
        squeezed = int(channels / ratio)
        self.conv1 = ConvModule(
            channels, squeezed, 1, conv_cfg=conv_cfg, act_cfg=act_cfg[0]
        )
        self.conv2 = ConvModule(
            squeezed, channels, 1, conv_cfg=conv_cfg, act_cfg=act_cfg[1]
        )

    def forward(self, x):
        weights = self.conv2(self.conv1(F.adaptive_avg_pool2d(x, 1)))
        return x * weights


class DyReLU(BaseModule):
    """Dynamic ReLU (Chen et al., 2020), DyHead's task-aware attention:
    max(a1 * x + b1, a2 * x + b2) with per-channel a1, b1, a2, b2 predicted
    from the global mean of x by ``conv1`` (reduce by ``ratio``) and
    ``conv2`` (4 * channels outputs, shifted by -0.5; a1 = 2*. + 1,
    a2 = 2*.).

    Args:
        channels (int): input channels.
        ratio (int): squeeze ratio of ``conv1``.
        conv_cfg (dict): conv of both ConvModules.
        act_cfg (dict | tuple[dict]): activation of conv1 and conv2.

    (B, channels, H, W) -> same shape.
    """

    def __init__(
        self,
        channels,
        ratio=4,
        conv_cfg=None,
        act_cfg=(
            dict(type='ReLU'),
            dict(type='HSigmoid', bias=3.0, divisor=6.0),
        ),
        init_cfg=None,
    ):
        super().__init__(init_cfg=init_cfg)
        if isinstance(act_cfg, dict):
            act_cfg = (act_cfg, act_cfg)
        check_arg(
            len(act_cfg) == 2 and all(isinstance(a, dict) for a in act_cfg),
            'DyReLU',
            'act_cfg must be a dict or a pair of dicts',
        )
        self.channels = channels
        self.expansion = 4
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        squeezed = int(channels / ratio)
        self.conv1 = ConvModule(
            channels, squeezed, 1, conv_cfg=conv_cfg, act_cfg=act_cfg[0]
        )
        self.conv2 = ConvModule(
            squeezed,
            channels * self.expansion,
            1,
            conv_cfg=conv_cfg,
            act_cfg=act_cfg[1],
        )

    def forward(self, x):
        coeffs = self.conv2(self.conv1(self.global_avgpool(x))) - 0.5
        a1, b1, a2, b2 = torch.split(coeffs, self.channels, dim=1)
        return torch.max(x * (a1 * 2.0 + 1.0) + b1, x * (a2 * 2.0) + b2)
