"""Feature Pyramid Network (Lin et al., 2017) with MMDetection 2.x names.

Lateral 1x1 convs bring every used backbone level to ``out_channels``, a
top-down pass adds each upsampled coarser level to the finer one, and a 3x3
conv smooths each sum. Levels beyond the backbone's come from max pooling
(``add_extra_convs=False``, what the released configs use) or from strided
3x3 convs. Parameters: ``lateral_convs.i.conv.*``, ``fpn_convs.i.conv.*``.
"""

import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import CONV_LAYERS, ConvModule
from mmcv.runner import BaseModule

from mmdet.utils.arg_errors import InvalidArgumentError, check_arg, unsupported
from ..builder import NECKS


def check_conv_cfg(conv_cfg):
    """Refuse a conv type mmcv's pure-Python registry lacks (e.g. DCN)."""
    if (
        conv_cfg is not None
        and conv_cfg.get('type') not in CONV_LAYERS.module_dict
    ):
        raise unsupported(
            'FPN',
            'conv_cfg',
            conv_cfg,
            f'Known conv types: {sorted(CONV_LAYERS.module_dict)}.',
        )


@NECKS.register_module()
class FPN(BaseModule):
    """FPN neck.

    Args:
        in_channels (list[int]): channels of each backbone output.
        out_channels (int): channels of every pyramid level.
        num_outs (int): number of output levels.
        start_level (int): first backbone output used.
        end_level (int): last backbone output used (inclusive); -1 = last.
        add_extra_convs (bool | str): how levels above the backbone's are
            made: False = max pool (kernel 1, stride 2) of the last output;
            'on_input' (or True), 'on_lateral', 'on_output' = strided 3x3
            convs on that source.
        relu_before_extra_convs (bool): ReLU before the 2nd+ extra conv.
        no_norm_on_lateral (bool): no norm layer on the lateral convs.
        conv_cfg, norm_cfg, act_cfg (dict): for the ConvModules.
        upsample_cfg (dict): ``F.interpolate`` arguments of the top-down
            pass; without ``scale_factor`` the size of the finer level is
            used, so odd sizes work.

    Input: tuple of (B, in_channels[i], H_i, W_i). Output: tuple of
    ``num_outs`` tensors (B, out_channels, H_i, W_i), strides doubling.
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        num_outs,
        start_level=0,
        end_level=-1,
        add_extra_convs=False,
        relu_before_extra_convs=False,
        no_norm_on_lateral=False,
        conv_cfg=None,
        norm_cfg=None,
        act_cfg=None,
        upsample_cfg=dict(mode='nearest'),
        init_cfg=dict(type='Xavier', layer='Conv2d', distribution='uniform'),
    ):
        super().__init__(init_cfg)
        check_arg(
            isinstance(in_channels, (list, tuple)),
            'FPN',
            f'in_channels must be a list of ints, got {in_channels!r}',
        )
        check_conv_cfg(conv_cfg)
        self.in_channels = list(in_channels)
        self.out_channels = out_channels
        self.num_ins = len(in_channels)
        self.num_outs = num_outs
        self.relu_before_extra_convs = relu_before_extra_convs
        self.no_norm_on_lateral = no_norm_on_lateral
        self.upsample_cfg = dict(upsample_cfg)

        self.start_level = start_level
        if end_level == -1 or end_level == self.num_ins - 1:
            self.backbone_end_level = self.num_ins
            check_arg(
                num_outs >= self.num_ins - start_level,
                'FPN',
                f'num_outs={num_outs} must cover every used input '
                f'level ({self.num_ins - start_level})',
            )
        else:
            self.backbone_end_level = end_level + 1
            check_arg(
                end_level < self.num_ins
                and num_outs == end_level - start_level + 1,
                'FPN',
                f'end_level={end_level} must be below len(in_channels) and '
                'num_outs must be end_level - start_level + 1',
            )
        if add_extra_convs is True:
            add_extra_convs = 'on_input'
        check_arg(
            add_extra_convs in (False, 'on_input', 'on_lateral', 'on_output'),
            'FPN',
            "add_extra_convs must be a bool or one of 'on_input', "
            f"'on_lateral', 'on_output', got {add_extra_convs!r}",
        )
        self.add_extra_convs = add_extra_convs

        self.lateral_convs = nn.ModuleList()
        self.fpn_convs = nn.ModuleList()
        for i in range(start_level, self.backbone_end_level):
            self.lateral_convs.append(
                ConvModule(
                    in_channels[i],
                    out_channels,
                    1,
                    conv_cfg=conv_cfg,
                    norm_cfg=None if no_norm_on_lateral else norm_cfg,
                    act_cfg=act_cfg,
                    inplace=False,
                )
            )
            self.fpn_convs.append(
                ConvModule(
                    out_channels,
                    out_channels,
                    3,
                    padding=1,
                    conv_cfg=conv_cfg,
                    norm_cfg=norm_cfg,
                    act_cfg=act_cfg,
                    inplace=False,
                )
            )

        num_extra = num_outs - (self.backbone_end_level - start_level)
        if add_extra_convs and num_extra > 0:
            for i in range(num_extra):
                if i == 0 and add_extra_convs == 'on_input':
                    in_ch = in_channels[self.backbone_end_level - 1]
                else:
                    in_ch = out_channels
                self.fpn_convs.append(
                    ConvModule(
                        in_ch,
                        out_channels,
                        3,
                        stride=2,
                        padding=1,
                        conv_cfg=conv_cfg,
                        norm_cfg=norm_cfg,
                        act_cfg=act_cfg,
                        inplace=False,
                    )
                )

    def _upsample_add(self, coarse, fine):
        if 'scale_factor' in self.upsample_cfg:
            up = F.interpolate(coarse, **self.upsample_cfg)
        else:
            up = F.interpolate(
                coarse, size=fine.shape[2:], **self.upsample_cfg
            )
        return fine + up

    def forward(self, inputs):
        if len(inputs) != len(self.in_channels):
            raise InvalidArgumentError(
                f'FPN expects {len(self.in_channels)} inputs, got '
                f'{len(inputs)}'
            )
        laterals = [
            conv(inputs[i + self.start_level])
            for i, conv in enumerate(self.lateral_convs)
        ]
        for i in range(len(laterals) - 1, 0, -1):
            laterals[i - 1] = self._upsample_add(laterals[i], laterals[i - 1])
        outs = [conv(lat) for conv, lat in zip(self.fpn_convs, laterals)]
        return tuple(self._extra_levels(inputs, laterals, outs))

    def _extra_levels(self, inputs, laterals, outs):
        """Append the levels above the backbone's to ``outs`` (one per
        used input so far) until there are ``num_outs``."""
        used = len(outs)
        if self.num_outs <= used:
            return outs
        if not self.add_extra_convs:
            for _ in range(self.num_outs - used):
                outs.append(F.max_pool2d(outs[-1], 1, stride=2))
            return outs
        source = {
            'on_input': inputs[self.backbone_end_level - 1],
            'on_lateral': laterals[-1],
            'on_output': outs[-1],
        }[self.add_extra_convs]
        outs.append(self.fpn_convs[used](source))
        for i in range(used + 1, self.num_outs):
            x = outs[-1]
            if self.relu_before_extra_convs:
                x = F.relu(x)
            outs.append(self.fpn_convs[i](x))
        return outs
