"""NAS-FPN (Ghiasi et al., 2019) with MMDetection 2.x names.

Five levels P3-P7 (P6, P7 from 1x1 conv + 2x2 max pool of the previous
level) pass ``stack_times`` times through the searched cell graph.
Parameters: ``lateral_convs.i.conv.*``, ``extra_downsamples.i.0.conv.*``,
``fpn_stages.s.<cell>.out_conv.*``.
"""

import torch.nn as nn
from mmcv.cnn import ConvModule
from mmcv.runner import BaseModule, ModuleList

from mmdet.utils.arg_errors import InvalidArgumentTypeError, check_arg
from ..builder import NECKS
from ..utils.merge_cells import GlobalPoolingCell, SumCell
from ._levels import backbone_end_level

# (cell name, cell type, with out_conv); see NASFPN.forward for the wiring
_STAGE = (
    ('gp_64_4', GlobalPoolingCell, True),
    ('sum_44_4', SumCell, True),
    ('sum_43_3', SumCell, True),
    ('sum_34_4', SumCell, True),
    ('gp_43_5', GlobalPoolingCell, False),
    ('sum_55_5', SumCell, True),
    ('gp_54_7', GlobalPoolingCell, False),
    ('sum_77_7', SumCell, True),
    ('gp_75_6', GlobalPoolingCell, True),
)


@NECKS.register_module()
class NASFPN(BaseModule):
    """NAS-FPN neck.

    Args:
        in_channels (list[int]): channels of each backbone output.
        out_channels (int): channels of every level.
        num_outs (int): output levels (the cell graph needs 5).
        stack_times (int): repetitions of the cell graph.
        start_level, end_level (int): used backbone outputs (as FPN).
        add_extra_convs (bool): kept for config compatibility (unused).
        norm_cfg (dict): norm of every conv.

    Input: tuple of (B, in_channels[i], H_i, W_i). Output: 5 tensors
    (B, out_channels, H_i, W_i), strides doubling.
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        num_outs,
        stack_times,
        start_level=0,
        end_level=-1,
        add_extra_convs=False,
        norm_cfg=None,
        init_cfg=dict(type='Caffe2Xavier', layer='Conv2d'),
    ):
        super().__init__(init_cfg)
        if not isinstance(in_channels, list):
            raise InvalidArgumentTypeError(
                f'NASFPN: in_channels must be a list, got {in_channels!r}'
            )
        check_arg(
            num_outs == 5, 'NASFPN', f'num_outs must be 5, got {num_outs}'
        )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_ins = len(in_channels)
        self.num_outs = num_outs
        self.stack_times = stack_times
        self.norm_cfg = norm_cfg
        self.backbone_end_level = backbone_end_level(
            'NASFPN', self.num_ins, num_outs, start_level, end_level
        )
        self.start_level = start_level
        self.end_level = end_level
        self.add_extra_convs = add_extra_convs

        def conv1x1(in_ch):
            return ConvModule(
                in_ch, out_channels, 1, norm_cfg=norm_cfg, act_cfg=None
            )

        self.lateral_convs = nn.ModuleList(
            conv1x1(in_channels[i])
            for i in range(start_level, self.backbone_end_level)
        )
        num_extra = num_outs - self.backbone_end_level + start_level
        self.extra_downsamples = nn.ModuleList(
            nn.Sequential(conv1x1(out_channels), nn.MaxPool2d(2, 2))
            for _ in range(num_extra)
        )
        self.fpn_stages = ModuleList(
            self._stage(out_channels, norm_cfg) for _ in range(stack_times)
        )

    @staticmethod
    def _stage(channels, norm_cfg):
        stage = nn.ModuleDict()
        for name, cell, with_conv in _STAGE:
            if with_conv:
                stage[name] = cell(
                    in_channels=channels,
                    out_channels=channels,
                    out_norm_cfg=norm_cfg,
                )
            else:
                stage[name] = cell(with_out_conv=False)
        return stage

    def forward(self, inputs):
        feats = [
            conv(inputs[i + self.start_level])
            for i, conv in enumerate(self.lateral_convs)
        ]
        for down in self.extra_downsamples:
            feats.append(down(feats[-1]))
        p3, p4, p5, p6, p7 = feats
        for s in self.fpn_stages:
            p4_1 = s['gp_64_4'](p6, p4, out_size=p4.shape[-2:])
            p4_2 = s['sum_44_4'](p4_1, p4, out_size=p4.shape[-2:])
            p3 = s['sum_43_3'](p4_2, p3, out_size=p3.shape[-2:])
            p4 = s['sum_34_4'](p3, p4_2, out_size=p4.shape[-2:])
            p5_tmp = s['gp_43_5'](p4, p3, out_size=p5.shape[-2:])
            p5 = s['sum_55_5'](p5, p5_tmp, out_size=p5.shape[-2:])
            p7_tmp = s['gp_54_7'](p5, p4_2, out_size=p7.shape[-2:])
            p7 = s['sum_77_7'](p7, p7_tmp, out_size=p7.shape[-2:])
            p6 = s['gp_75_6'](p7, p5, out_size=p6.shape[-2:])
        return p3, p4, p5, p6, p7
