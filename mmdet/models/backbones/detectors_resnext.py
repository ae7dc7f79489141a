"""ResNeXt of DetectoRS (MMDetection 2.x names and layout).

``DetectoRS_ResNet`` whose blocks are ResNeXt's grouped bottlenecks
(``mmdet.models.backbones.resnext``): the 3x3 conv, SAC included, has
``groups`` groups and the inner width is ``floor(planes * base_width /
base_channels) * groups`` (``planes`` when ``groups == 1``), e.g. 128 in the
first stage of ResNeXt-50 32x4d.
"""

from ..builder import BACKBONES
from .detectors_resnet import Bottleneck as _DetectoRSBottleneck
from .detectors_resnet import DetectoRS_ResNet
from .resnext import Bottleneck as _ResNeXtBottleneck


class Bottleneck(_DetectoRSBottleneck, _ResNeXtBottleneck):
    """DetectoRS Bottleneck (``sac``, ``rfp_inplanes``) with ResNeXt's
    width and groups (``groups``, ``base_width``, ``base_channels``)."""

    expansion = 4


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
        # read by make_res_layer() while ResNet.__init__ builds the stages
        self.groups = groups
        self.base_width = base_width
        super().__init__(**kwargs)

    def make_res_layer(self, **kwargs):
        return super().make_res_layer(
            groups=self.groups,
            base_width=self.base_width,
            base_channels=self.base_channels,
            **kwargs,
        )
