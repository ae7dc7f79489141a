"""ResNeXt (Xie et al., 2017): ResNet whose 3x3 convs are grouped."""

import math

from ..builder import BACKBONES
from ..utils.res_layer import ResLayer
from .resnet import Bottleneck as _Bottleneck
from .resnet import ResNet


class Bottleneck(_Bottleneck):
    """ResNeXt block: the bottleneck is ``floor(planes * base_width /
    base_channels) * groups`` channels wide (``planes`` when ``groups`` is
    1) and its 3x3 conv has ``groups`` groups; other arguments as ResNet's
    ``Bottleneck``."""

    def __init__(
        self,
        inplanes,
        planes,
        groups=1,
        base_width=4,
        base_channels=64,
        **kwargs,
    ):
        # read by mid_channels() / _make_conv2() while the parent builds
        self.groups = groups
        self.base_width = base_width
        self.base_channels = base_channels
        super().__init__(inplanes, planes, **kwargs)

    def mid_channels(self):
        if self.groups == 1:
            return self.planes
        # planes * (base_width / base_channels), in MMDetection's order:
        # RegNet's ratios are not exact, so the order decides the floor
        per_group = math.floor(
            self.planes * (self.base_width / self.base_channels)
        )
        return per_group * self.groups


@BACKBONES.register_module()
class ResNeXt(ResNet):
    """ResNeXt backbone (depth 50, 101 or 152).

    Args:
        groups (int): groups of each 3x3 conv (the "32" of 32x4d).
        base_width (int): channels per group in the first stage (the "4d").
        **kwargs: ResNet's arguments.
    """

    arch_settings = {
        50: (Bottleneck, (3, 4, 6, 3)),
        101: (Bottleneck, (3, 4, 23, 3)),
        152: (Bottleneck, (3, 8, 36, 3)),
    }

    def __init__(self, groups=1, base_width=4, **kwargs):
        # read by make_res_layer() while ResNet.__init__ builds the stages
        self.groups = groups
        self.base_width = base_width
        super().__init__(**kwargs)

    def make_res_layer(self, **kwargs):
        return ResLayer(
            groups=self.groups,
            base_width=self.base_width,
            base_channels=self.base_channels,
            **kwargs,
        )
