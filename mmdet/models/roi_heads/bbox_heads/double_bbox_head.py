"""Double-Head R-CNN's box head (Wu et al., 2020): fully connected layers
classify, convolutions regress."""

import torch.nn as nn
from mmcv.cnn import ConvModule
from mmcv.runner import BaseModule, ModuleList

from mmdet.models.backbones.resnet import Bottleneck
from mmdet.models.builder import HEADS
from mmdet.utils.arg_errors import InvalidArgumentError
from .bbox_head import BBoxHead


class BasicResBlock(BaseModule):
    """3x3 conv -> 1x1 conv (no activation) plus a 1x1 projection of the
    input, then ReLU: (K, in_channels, H, W) -> (K, out_channels, H, W)."""

    def __init__(
        self,
        in_channels,
        out_channels,
        conv_cfg=None,
        norm_cfg=dict(type='BN'),
        init_cfg=None,
    ):
        super().__init__(init_cfg)
        norm = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        self.conv1 = ConvModule(
            in_channels, in_channels, 3, padding=1, bias=False, **norm
        )
        self.conv2 = ConvModule(
            in_channels, out_channels, 1, bias=False, act_cfg=None, **norm
        )
        self.conv_identity = ConvModule(
            in_channels, out_channels, 1, act_cfg=None, **norm
        )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.conv2(self.conv1(x)) + self.conv_identity(x))


@HEADS.register_module()
class DoubleConvFCBBoxHead(BBoxHead):
    """Class scores from ``num_fcs`` linear layers on the flattened RoI
    feature; box deltas from a residual block, ``num_convs`` ResNet
    bottlenecks and an average pool.

    Args:
        num_convs (int): bottlenecks of the regression branch (> 0).
        num_fcs (int): linear layers of the classification branch (> 0).
        conv_out_channels (int): channels of the regression branch.
        fc_out_channels (int): width of the classification branch.
        conv_cfg (dict, optional), norm_cfg (dict): conv and norm layers.
        init_cfg (dict): initialization (normal ``fc_cls``/``fc_reg``,
            uniform Xavier ``fc_branch``).
        **kwargs: :class:`BBoxHead` arguments (``with_avg_pool`` defaults
            to True and must stay True).
    """

    def __init__(
        self,
        num_convs=0,
        num_fcs=0,
        conv_out_channels=1024,
        fc_out_channels=1024,
        conv_cfg=None,
        norm_cfg=dict(type='BN'),
        init_cfg=dict(
            type='Normal',
            override=[
                dict(type='Normal', name='fc_cls', std=0.01),
                dict(type='Normal', name='fc_reg', std=0.001),
                dict(type='Xavier', name='fc_branch', distribution='uniform'),
            ],
        ),
        **kwargs,
    ):
        kwargs.setdefault('with_avg_pool', True)
        super().__init__(init_cfg=init_cfg, **kwargs)
        if not self.with_avg_pool:
            raise InvalidArgumentError(
                'DoubleConvFCBBoxHead needs with_avg_pool=True'
            )
        if num_convs <= 0 or num_fcs <= 0:
            raise InvalidArgumentError(
                'DoubleConvFCBBoxHead needs num_convs > 0 and num_fcs > 0, '
                f'got {num_convs} and {num_fcs}'
            )
        self.num_convs = num_convs
        self.num_fcs = num_fcs
        self.conv_out_channels = conv_out_channels
        self.fc_out_channels = fc_out_channels
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.res_block = BasicResBlock(self.in_channels, conv_out_channels)
        self.conv_branch = ModuleList(
            Bottleneck(
                inplanes=conv_out_channels,
                planes=conv_out_channels // 4,
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg,
            )
            for _ in range(num_convs)
        )
        self.fc_branch = ModuleList(
            nn.Linear(
                self.in_channels * self.roi_feat_area
                if i == 0
                else fc_out_channels,
                fc_out_channels,
            )
            for i in range(num_fcs)
        )
        out_dim_reg = 4 if self.reg_class_agnostic else 4 * self.num_classes
        self.fc_reg = nn.Linear(conv_out_channels, out_dim_reg)
        self.fc_cls = nn.Linear(fc_out_channels, self.num_classes + 1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x_cls, x_reg):
        """(K, C, S, S) classification and regression RoI features ->
        (K, num_classes + 1) scores, (K, 4 * num_classes) deltas."""
        x_conv = self.res_block(x_reg)
        for conv in self.conv_branch:
            x_conv = conv(x_conv)
        bbox_pred = self.fc_reg(self.avg_pool(x_conv).flatten(1))
        x_fc = x_cls.flatten(1)
        for fc in self.fc_branch:
            x_fc = self.relu(fc(x_fc))
        return self.fc_cls(x_fc), bbox_pred
