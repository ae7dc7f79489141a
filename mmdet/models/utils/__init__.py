"""Building blocks shared by models, where MMDetection 2.x code imports
them from (``mmdet.models.utils``)."""

from ..backbones.resnet import ResLayer

__all__ = ['ResLayer']
