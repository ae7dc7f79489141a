"""YOLOv3's neck (Redmon and Farhadi, 2018) with MMDetection 2.x names.

The coarsest level goes through ``detect1``; each finer level gets the
previous output, reduced by a 1x1 ``conv{i}`` and upsampled 2x,
concatenated to it, then ``detect{i+1}``. Outputs run coarse to fine.
"""

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmcv.runner import BaseModule

from mmdet.utils.arg_errors import check_arg
from ..builder import NECKS


class DetectionBlock(BaseModule):
    """Five ConvModules 1x1, 3x3, 1x1, 3x3, 1x1 (``conv1``..``conv5``)
    alternating ``out_channels`` and twice that.

    (B, in_channels, H, W) -> (B, out_channels, H, W).
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        conv_cfg=None,
        norm_cfg=dict(type='BN', requires_grad=True),
        act_cfg=dict(type='LeakyReLU', negative_slope=0.1),
        init_cfg=None,
    ):
        super().__init__(init_cfg)
        cfg = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        double = out_channels * 2
        self.conv1 = ConvModule(in_channels, out_channels, 1, **cfg)
        self.conv2 = ConvModule(out_channels, double, 3, padding=1, **cfg)
        self.conv3 = ConvModule(double, out_channels, 1, **cfg)
        self.conv4 = ConvModule(out_channels, double, 3, padding=1, **cfg)
        self.conv5 = ConvModule(double, out_channels, 1, **cfg)

    def forward(self, x):
        for i in range(1, 6):
            x = getattr(self, f'conv{i}')(x)
        return x


@NECKS.register_module()
class YOLOV3Neck(BaseModule):
    """YOLOv3 neck.

    Args:
        num_scales (int): number of levels.
        in_channels (list[int]): channels per level, coarsest first.
        out_channels (list[int]): output channels per level, coarsest first.
        conv_cfg, norm_cfg, act_cfg (dict): of every ConvModule.

    Input: tuple of levels, finest first (backbone order). Output: tuple of
    (B, out_channels[i], H_i, W_i), coarsest first.
    """

    def __init__(
        self,
        num_scales,
        in_channels,
        out_channels,
        conv_cfg=None,
        norm_cfg=dict(type='BN', requires_grad=True),
        act_cfg=dict(type='LeakyReLU', negative_slope=0.1),
        init_cfg=None,
    ):
        super().__init__(init_cfg)
        check_arg(
            num_scales == len(in_channels) == len(out_channels),
            'YOLOV3Neck',
            'num_scales, len(in_channels) and len(out_channels) must agree',
        )
        self.num_scales = num_scales
        self.in_channels = in_channels
        self.out_channels = out_channels
        cfg = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.detect1 = DetectionBlock(in_channels[0], out_channels[0], **cfg)
        for i in range(1, num_scales):
            in_c, out_c = in_channels[i], out_channels[i]
            self.add_module(
                f'conv{i}', ConvModule(out_channels[i - 1], out_c, 1, **cfg)
            )
            self.add_module(
                f'detect{i + 1}', DetectionBlock(in_c + out_c, out_c, **cfg)
            )

    def forward(self, feats):
        check_arg(
            len(feats) == self.num_scales,
            'YOLOV3Neck',
            f'expects {self.num_scales} inputs, got {len(feats)}',
        )
        out = self.detect1(feats[-1])
        outs = [out]
        for i, x in enumerate(reversed(feats[:-1]), start=1):
            up = F.interpolate(getattr(self, f'conv{i}')(out), scale_factor=2)
            out = getattr(self, f'detect{i + 1}')(torch.cat((up, x), 1))
            outs.append(out)
        return tuple(outs)
