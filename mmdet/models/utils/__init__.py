"""Building blocks shared by models, where MMDetection 2.x code imports
them from (``mmdet.models.utils``)."""

from ..backbones.resnet import ResLayer
from .inverted_residual import InvertedResidual
from .make_divisible import make_divisible
from .se_layer import SELayer

__all__ = ['ResLayer', 'InvertedResidual', 'SELayer', 'make_divisible']
