"""ResNeXt of DetectoRS (MMDetection 2.x names and layout).

``DetectoRS_ResNet`` whose blocks are ResNeXt bottlenecks: the 3x3 conv
has ``groups`` groups and the inner width is
``floor(planes * base_width / base_channels) * groups`` (``planes`` when
``groups == 1``), e.g. 128 in the first stage of ResNeXt-50 32x4d.

The grouped bottleneck is written here on DetectoRS's Bottleneck; it only
re-sizes ``conv1..3`` and ``bn1..3``, so it can move onto a shared ResNeXt
Bottleneck later without changing the state dict.
"""

import math

from mmcv.cnn import build_conv_layer, build_norm_layer

from ..builder import BACKBONES
from .detectors_resnet import Bottleneck as _Bottleneck
from .detectors_resnet import DetectoRS_ResNet


class Bottleneck(_Bottleneck):
    """DetectoRS Bottleneck with ResNeXt's grouped 3x3 conv."""

    expansion = 4

    def __init__(
        self,
        inplanes,
        planes,
        groups=1,
        base_width=4,
        base_channels=64,
        **kwargs,
    ):
        super().__init__(inplanes, planes, **kwargs)
        if groups == 1:
            return
        width = math.floor(planes * base_width / base_channels) * groups
        conv_cfg = kwargs.get('conv_cfg')
        norm_cfg = kwargs.get('norm_cfg', dict(type='BN'))
        self.conv1 = build_conv_layer(
            conv_cfg, inplanes, width, 1, stride=self.conv1_stride, bias=False
        )
        self.conv2 = build_conv_layer(
            self.sac if self.with_sac else conv_cfg,
            width,
            width,
            kernel_size=3,
            stride=self.conv2_stride,
            padding=self.dilation,
            dilation=self.dilation,
            groups=groups,
            bias=False,
        )
        self.conv3 = build_conv_layer(
            conv_cfg, width, planes * self.expansion, 1, bias=False
        )
        for postfix, channels in ((1, width), (2, width)):
            self.add_module(*build_norm_layer(norm_cfg, channels, postfix))


@BACKBONES.register_module()
class DetectoRS_ResNeXt(DetectoRS_ResNet):
    """ResNeXt backbone of DetectoRS.

    Args (MMDetection 2.28's): groups (int), base_width (int); the rest are
    ``DetectoRS_ResNet``'s. Output as ``DetectoRS_ResNet``'s.
    """

    arch_settings = {
        50: (Bottleneck, (3, 4, 6, 3)),
        101: (Bottleneck, (3, 4, 23, 3)),
        152: (Bottleneck, (3, 8, 36, 3)),
    }

    def __init__(self, groups=1, base_width=4, **kwargs):
        self.groups = groups
        self.base_width = base_width
        super().__init__(**kwargs)

    def _block_kwargs(self):
        return dict(
            groups=self.groups,
            base_width=self.base_width,
            base_channels=self.base_channels,
        )
