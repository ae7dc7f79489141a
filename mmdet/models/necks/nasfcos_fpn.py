"""NAS-FCOS's searched FPN (Wang et al., 2020) with MMDetection 2.x names.

Inputs C3-C5 are adapted by 1x1 conv + BN + ReLU (``adapt_convs``); seven
concatenation cells (``fpn.c22_1`` ... ``fpn.c61``; the digits name the
two feature indices merged) grow the feature list; P3-P5 are cells 9, 8, 7
plus cell 5, resized to the input sizes; extra levels come from strided
3x3 convs (``extra_downsamples``).
"""

import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule, caffe2_xavier_init
from mmcv.runner import BaseModule

from mmdet.utils.arg_errors import InvalidArgumentTypeError, check_arg
from ..builder import NECKS
from ..utils.merge_cells import ConcatCell
from ._levels import backbone_end_level

# cell name -> (input 1 conv, input 2 conv); insertion order is the graph's
_CELLS = {
    'c22_1': (True, True),
    'c22_2': (True, True),
    'c32': (True, False),
    'c02': (True, False),
    'c42': (True, True),
    'c36': (True, True),
    'c61': (True, True),
}


@NECKS.register_module()
class NASFCOS_FPN(BaseModule):
    """NAS-FCOS FPN neck.

    Args:
        in_channels (list[int]): channels of each backbone output.
        out_channels (int): channels of every level.
        num_outs (int): output levels.
        start_level, end_level (int): used backbone outputs (the graph
            needs three: C3-C5).
        add_extra_convs (bool): kept for config compatibility (unused).
        conv_cfg, norm_cfg (dict): conv and norm of the cells' input convs
            (MMDetection's config uses DCNv2 there).
        init_cfg: must be None (the init is fixed, as in MMDetection).

    Input: tuple of (B, in_channels[i], H_i, W_i). Output: ``num_outs``
    tensors (B, out_channels, H_i, W_i) from the start level up.
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        num_outs,
        start_level=1,
        end_level=-1,
        add_extra_convs=False,
        conv_cfg=None,
        norm_cfg=None,
        init_cfg=None,
    ):
        check_arg(
            init_cfg is None,
            'NASFCOS_FPN',
            'init_cfg must be None (the initialisation is fixed)',
        )
        super().__init__(init_cfg)
        if not isinstance(in_channels, list):
            raise InvalidArgumentTypeError(
                f'NASFCOS_FPN: in_channels must be a list, got {in_channels!r}'
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_ins = len(in_channels)
        self.num_outs = num_outs
        self.norm_cfg = norm_cfg
        self.conv_cfg = conv_cfg
        self.backbone_end_level = backbone_end_level(
            'NASFCOS_FPN', self.num_ins, num_outs, start_level, end_level
        )
        check_arg(
            self.backbone_end_level - start_level == 3,
            'NASFCOS_FPN',
            'the searched graph needs exactly three input levels',
        )
        self.start_level = start_level
        self.end_level = end_level
        self.add_extra_convs = add_extra_convs

        self.adapt_convs = nn.ModuleList(
            ConvModule(
                in_channels[i],
                out_channels,
                1,
                bias=False,
                norm_cfg=dict(type='BN'),
                act_cfg=dict(type='ReLU', inplace=False),
            )
            for i in range(start_level, self.backbone_end_level)
        )
        self.fpn = nn.ModuleDict(
            (name, self._cell(out_channels, conv_cfg, norm_cfg, *convs))
            for name, convs in _CELLS.items()
        )
        num_extra = num_outs - self.backbone_end_level + start_level
        self.extra_downsamples = nn.ModuleList(
            ConvModule(
                out_channels,
                out_channels,
                3,
                stride=2,
                padding=1,
                act_cfg=None if i == 0 else dict(type='ReLU', inplace=False),
                order=('act', 'norm', 'conv'),
            )
            for i in range(num_extra)
        )

    @staticmethod
    def _cell(channels, conv_cfg, norm_cfg, conv1, conv2):
        return ConcatCell(
            in_channels=channels,
            out_channels=channels,
            with_out_conv=True,
            out_conv_cfg=dict(
                kernel_size=1, padding=0, bias=False, groups=channels
            ),
            out_norm_cfg=dict(type='BN'),
            out_conv_order=('norm', 'act', 'conv'),
            with_input1_conv=conv1,
            with_input2_conv=conv2,
            input_conv_cfg=conv_cfg,
            input_norm_cfg=norm_cfg,
            upsample_mode='nearest',
        )

    def forward(self, inputs):
        feats = [
            conv(inputs[i + self.start_level])
            for i, conv in enumerate(self.adapt_convs)
        ]
        for name, cell in self.fpn.items():
            feats.append(cell(feats[int(name[1])], feats[int(name[2])]))
        outs = []
        for idx, input_idx in zip((9, 8, 7), (1, 2, 3)):
            fused = feats[idx] + _bilinear(feats[5], feats[idx].shape[2:])
            outs.append(_bilinear(fused, inputs[input_idx].shape[2:]))
        for down in self.extra_downsamples:
            outs.append(down(outs[-1]))
        return tuple(outs)

    def init_weights(self):
        super().init_weights()
        for part in (self.adapt_convs, self.extra_downsamples):
            for m in part.modules():
                if isinstance(m, nn.Conv2d):
                    caffe2_xavier_init(m)


def _bilinear(x, size):
    return F.interpolate(x, size=size, mode='bilinear', align_corners=False)
