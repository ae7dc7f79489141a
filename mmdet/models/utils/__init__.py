"""Building blocks shared by models, where MMDetection 2.x code imports
them from (``mmdet.models.utils``)."""

from ..backbones.resnet import ResLayer
from .carafe import CARAFEPack
from .merge_cells import ConcatCell, GlobalPoolingCell, SumCell
from .se_layer import DyReLU

__all__ = [
    'ResLayer',
    'CARAFEPack',
    'ConcatCell',
    'GlobalPoolingCell',
    'SumCell',
    'DyReLU',
]
