"""MMDetection 2.28's ``InvertedResidual`` (MobileNetV2 / EfficientNet
block): ``expand_conv`` (optional), ``depthwise_conv``, ``se`` (optional),
``linear_conv``, each an mmcv ``ConvModule`` (``.conv``, ``.bn``)."""

import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn import ConvModule
from mmcv.cnn.bricks import DropPath
from mmcv.runner import BaseModule

from mmdet.utils.arg_errors import check_arg
from .se_layer import SELayer


class InvertedResidual(BaseModule):
    """1x1 expand -> k x k depth-wise (the stride) -> [SE] -> 1x1 linear
    projection, plus the input (through ``drop_path``) when stride is 1 and
    the channels are kept.

    Args:
        in_channels, out_channels (int): block input / output channels.
        mid_channels (int): channels of the depth-wise conv.
        kernel_size (int): of the depth-wise conv.
        stride (int): 1 or 2.
        se_cfg (dict, optional): ``SELayer`` arguments.
        with_expand_conv (bool): False needs ``mid_channels ==
            in_channels``.
        conv_cfg, norm_cfg, act_cfg (dict): for the ConvModules (the linear
            projection has no activation).
        drop_path_rate (float): stochastic depth of the residual branch.
        with_cp (bool): activation checkpointing.

    (B, in_channels, H, W) -> (B, out_channels, H / stride, W / stride).
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        mid_channels,
        kernel_size=3,
        stride=1,
        se_cfg=None,
        with_expand_conv=True,
        conv_cfg=None,
        norm_cfg=dict(type='BN'),
        act_cfg=dict(type='ReLU'),
        drop_path_rate=0.0,
        with_cp=False,
        init_cfg=None,
    ):
        super().__init__(init_cfg)
        check_arg(
            stride in (1, 2),
            'InvertedResidual',
            f'stride must be 1 or 2, got {stride}',
        )
        check_arg(
            with_expand_conv or mid_channels == in_channels,
            'InvertedResidual',
            f'without expand conv mid_channels ({mid_channels}) must equal '
            f'in_channels ({in_channels})',
        )
        self.with_res_shortcut = stride == 1 and in_channels == out_channels
        self.with_cp = with_cp
        self.with_se = se_cfg is not None
        self.with_expand_conv = with_expand_conv
        self.drop_path = (
            DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()
        )
        cfgs = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        if with_expand_conv:
            self.expand_conv = ConvModule(
                in_channels, mid_channels, 1, act_cfg=act_cfg, **cfgs
            )
        self.depthwise_conv = ConvModule(
            mid_channels,
            mid_channels,
            kernel_size,
            stride=stride,
            padding=kernel_size // 2,
            groups=mid_channels,
            act_cfg=act_cfg,
            **cfgs,
        )
        if self.with_se:
            self.se = SELayer(**se_cfg)
        self.linear_conv = ConvModule(
            mid_channels, out_channels, 1, act_cfg=None, **cfgs
        )

    def _branch(self, x):
        out = self.expand_conv(x) if self.with_expand_conv else x
        out = self.depthwise_conv(out)
        if self.with_se:
            out = self.se(out)
        out = self.linear_conv(out)
        return x + self.drop_path(out) if self.with_res_shortcut else out

    def forward(self, x):
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._branch, x, use_reentrant=False)
        return self._branch(x)
