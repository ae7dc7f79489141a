"""Stacked Hourglass network of CornerNet / CentripetalNet (MMDetection
2.x names and layout).

``stem`` (7x7 ConvModule, stride 2, and a stride-2 BasicBlock) brings the
image to stride 4; each of ``num_stacks`` ``hourglass_modules`` is a
recursive encoder-decoder returning its input's resolution; ``out_convs``
give the per-stack outputs and, between stacks, ``conv1x1s`` +
``remap_convs`` + ``inters`` merge the previous input and output.
"""

import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmcv.runner import BaseModule

from mmdet.utils.arg_errors import check_arg
from ..builder import BACKBONES
from ..utils.res_layer import ResLayer
from .resnet import BasicBlock

HOURGLASS_NORM_CFG = dict(type='BN', requires_grad=True)


class HourglassModule(BaseModule):
    """One hourglass of ``depth`` levels: ``up1`` keeps the resolution,
    ``low1`` halves it (channels ``stage_channels[0] -> [1]``), ``low2`` is
    the next level (or BasicBlocks at the bottom), ``low3`` maps back and
    the upsampled result is added to ``up1``. (B, C0, H, W) -> same shape.
    """

    def __init__(
        self,
        depth,
        stage_channels,
        stage_blocks,
        norm_cfg=HOURGLASS_NORM_CFG,
        init_cfg=None,
        upsample_cfg=dict(mode='nearest'),
    ):
        super().__init__(init_cfg)
        self.depth = depth
        cur_ch, next_ch = stage_channels[:2]
        cur_blocks, next_blocks = stage_blocks[:2]

        def layer(c_in, c_out, n, **kw):
            return ResLayer(
                BasicBlock, c_in, c_out, n, norm_cfg=norm_cfg, **kw
            )

        self.up1 = layer(cur_ch, cur_ch, cur_blocks)
        self.low1 = layer(cur_ch, next_ch, cur_blocks, stride=2)
        if depth > 1:
            self.low2 = HourglassModule(
                depth - 1,
                stage_channels[1:],
                stage_blocks[1:],
                norm_cfg=norm_cfg,
                upsample_cfg=upsample_cfg,
            )
        else:
            self.low2 = layer(next_ch, next_ch, next_blocks)
        self.low3 = layer(next_ch, cur_ch, cur_blocks, downsample_first=False)
        self.upsample_cfg = upsample_cfg

    def forward(self, x):
        up1 = self.up1(x)
        low3 = self.low3(self.low2(self.low1(x)))
        # Without a scale factor the size of up1 is used, so odd sizes work.
        size = None if 'scale_factor' in self.upsample_cfg else up1.shape[2:]
        return up1 + F.interpolate(low3, size=size, **self.upsample_cfg)


@BACKBONES.register_module()
class HourglassNet(BaseModule):
    """HourglassNet backbone (Hourglass-104: the defaults, 2 stacks).

    Args (MMDetection 2.28's, same defaults):
        downsample_times (int): levels of each hourglass.
        num_stacks (int): stacked hourglasses (1: Hourglass-52).
        stage_channels (Sequence[int]): channels of each level.
        stage_blocks (Sequence[int]): BasicBlocks of each level.
        feat_channel (int): channels of the outputs.
        norm_cfg (dict): mmcv norm config of every layer.
        pretrained (str, optional): unused (as in MMDetection).
        init_cfg: must be None (MMDetection refuses it too).

    Output: list of ``num_stacks`` tensors (B, feat_channel, H / 4, W / 4).
    """

    def __init__(
        self,
        downsample_times=5,
        num_stacks=2,
        stage_channels=(256, 256, 384, 384, 384, 512),
        stage_blocks=(2, 2, 2, 2, 2, 4),
        feat_channel=256,
        norm_cfg=HOURGLASS_NORM_CFG,
        pretrained=None,
        init_cfg=None,
    ):
        check_arg(
            init_cfg is None,
            'HourglassNet',
            'init_cfg must be None (convs keep PyTorch initialisation)',
        )
        super().__init__(init_cfg)
        check_arg(
            num_stacks >= 1,
            'HourglassNet',
            f'num_stacks must be >= 1, got {num_stacks}',
        )
        check_arg(
            len(stage_channels) == len(stage_blocks) > downsample_times,
            'HourglassNet',
            'stage_channels and stage_blocks need the same length, more than '
            f'downsample_times={downsample_times}',
        )
        self.num_stacks = num_stacks
        ch = stage_channels[0]
        norm = dict(norm_cfg=norm_cfg)
        self.stem = nn.Sequential(
            ConvModule(3, ch // 2, 7, padding=3, stride=2, **norm),
            ResLayer(BasicBlock, ch // 2, ch, 1, stride=2, **norm),
        )
        self.hourglass_modules = nn.ModuleList(
            HourglassModule(
                downsample_times, stage_channels, stage_blocks, **norm
            )
            for _ in range(num_stacks)
        )
        # MMDetection builds one block even for a single stack.
        self.inters = ResLayer(BasicBlock, ch, ch, num_stacks - 1, **norm)
        self.conv1x1s = nn.ModuleList(
            ConvModule(ch, ch, 1, act_cfg=None, **norm)
            for _ in range(num_stacks - 1)
        )
        self.out_convs = nn.ModuleList(
            ConvModule(ch, feat_channel, 3, padding=1, **norm)
            for _ in range(num_stacks)
        )
        self.remap_convs = nn.ModuleList(
            ConvModule(feat_channel, ch, 1, act_cfg=None, **norm)
            for _ in range(num_stacks - 1)
        )
        self.relu = nn.ReLU(inplace=True)

    def init_weights(self):
        """mmcv's initialisation, then PyTorch's default for every conv
        (what CentripetalNet's training expects)."""
        super().init_weights()
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                m.reset_parameters()

    def forward(self, x):
        """(B, 3, H, W) -> list of (B, feat_channel, H / 4, W / 4)."""
        inter = self.stem(x)
        outs = []
        for i in range(self.num_stacks):
            out = self.out_convs[i](self.hourglass_modules[i](inter))
            outs.append(out)
            if i < self.num_stacks - 1:
                merged = self.conv1x1s[i](inter) + self.remap_convs[i](out)
                inter = self.inters[i](self.relu(merged))
        return outs
