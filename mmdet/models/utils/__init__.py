"""Building blocks shared by models, where MMDetection 2.x code imports
them from (``mmdet.models.utils``)."""

from ..backbones.resnet import ResLayer
from .builder import LINEAR_LAYERS, build_linear_layer
from .normed_predictor import NormedConv2d, NormedLinear

__all__ = [
    'ResLayer',
    'LINEAR_LAYERS',
    'build_linear_layer',
    'NormedLinear',
    'NormedConv2d',
]
