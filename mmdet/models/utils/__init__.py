"""Building blocks shared by models, where MMDetection 2.x code imports
them from (``mmdet.models.utils``)."""

from ..backbones.resnet import ResLayer
from .csp_layer import CSPLayer, DarknetBottleneck
from .saconv import SAConv2d

__all__ = ['ResLayer', 'CSPLayer', 'DarknetBottleneck', 'SAConv2d']
