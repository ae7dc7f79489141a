"""Balanced Feature Pyramid (Libra R-CNN, Pang et al., 2019) with
MMDetection 2.x names.

All levels are resized to the ``refine_level`` size (max pool down,
nearest up) and averaged; the mean is refined (3x3 ConvModule or an
embedded-Gaussian NonLocal2d, ``refine.*``) and resized back as a residual
added to each level.
"""

import torch.nn.functional as F
from mmcv.cnn import ConvModule, NonLocal2d
from mmcv.runner import BaseModule

from mmdet.utils.arg_errors import check_arg
from ..builder import NECKS


def _resize(x, size, pool):
    if pool:
        return F.adaptive_max_pool2d(x, output_size=size)
    return F.interpolate(x, size=size, mode='nearest')


@NECKS.register_module()
class BFP(BaseModule):
    """BFP neck (used after an FPN).

    Args:
        in_channels (int): channels of every level (in and out).
        num_levels (int): number of levels.
        refine_level (int): level whose size the levels are gathered at.
        refine_type (str | None): None, 'conv' or 'non_local'.
        conv_cfg, norm_cfg (dict): of the refine block.

    Input and output: ``num_levels`` tensors (B, in_channels, H_i, W_i).
    """

    def __init__(
        self,
        in_channels,
        num_levels,
        refine_level=2,
        refine_type=None,
        conv_cfg=None,
        norm_cfg=None,
        init_cfg=dict(type='Xavier', layer='Conv2d', distribution='uniform'),
    ):
        super().__init__(init_cfg)
        check_arg(
            refine_type in (None, 'conv', 'non_local'),
            'BFP',
            "refine_type must be None, 'conv' or 'non_local', got "
            f'{refine_type!r}',
        )
        check_arg(
            0 <= refine_level < num_levels,
            'BFP',
            f'refine_level={refine_level} must be in [0, {num_levels})',
        )
        self.in_channels = in_channels
        self.num_levels = num_levels
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.refine_level = refine_level
        self.refine_type = refine_type
        if refine_type == 'conv':
            self.refine = ConvModule(
                in_channels,
                in_channels,
                3,
                padding=1,
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg,
            )
        elif refine_type == 'non_local':
            self.refine = NonLocal2d(
                in_channels,
                reduction=1,
                use_scale=False,
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg,
            )

    def forward(self, inputs):
        check_arg(
            len(inputs) == self.num_levels,
            'BFP',
            f'expects {self.num_levels} inputs, got {len(inputs)}',
        )
        lvl = self.refine_level
        size = inputs[lvl].shape[2:]
        gathered = [_resize(x, size, i < lvl) for i, x in enumerate(inputs)]
        bsf = sum(gathered) / len(gathered)
        if self.refine_type is not None:
            bsf = self.refine(bsf)
        return tuple(
            x + _resize(bsf, x.shape[2:], i >= lvl)
            for i, x in enumerate(inputs)
        )
