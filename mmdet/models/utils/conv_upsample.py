"""A stack of 3x3 convs with 2x bilinear upsampling after the first
``num_upsample`` (Panoptic FPN's semantic branch)."""

import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmcv.runner import BaseModule, ModuleList

from mmdet.utils.arg_errors import check_arg


class ConvUpsample(BaseModule):
    """``num_layers`` ConvModules (``in_channels`` -> ``inner_channels``);
    the first ``num_upsample`` (default: all) are each followed by a 2x
    bilinear upsampling."""

    def __init__(
        self,
        in_channels,
        inner_channels,
        num_layers=1,
        num_upsample=None,
        conv_cfg=None,
        norm_cfg=None,
        init_cfg=None,
        **kwargs,
    ):
        super().__init__(init_cfg)
        num_upsample = num_layers if num_upsample is None else num_upsample
        check_arg(
            num_upsample <= num_layers,
            'ConvUpsample',
            f'num_upsample ({num_upsample}) must be at most num_layers '
            f'({num_layers})',
        )
        self.num_layers = num_layers
        self.num_upsample = num_upsample
        self.conv = ModuleList()
        for i in range(num_layers):
            self.conv.append(
                ConvModule(
                    in_channels if i == 0 else inner_channels,
                    inner_channels,
                    3,
                    padding=1,
                    conv_cfg=conv_cfg,
                    norm_cfg=norm_cfg,
                    **kwargs,
                )
            )

    def forward(self, x):
        for i, conv in enumerate(self.conv):
            x = conv(x)
            if i < self.num_upsample:
                x = F.interpolate(
                    x, scale_factor=2, mode='bilinear', align_corners=False
                )
        return x
