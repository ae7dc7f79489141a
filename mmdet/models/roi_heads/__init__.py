from .base_roi_head import BaseRoIHead
from .bbox_heads import (
    BBoxHead,
    ConvFCBBoxHead,
    Shared2FCBBoxHead,
    Shared4Conv1FCBBoxHead,
)
from .cascade_roi_head import CascadeRoIHead
from .mask_heads import DynamicMaskHead, FCNMaskHead
from .roi_extractors import BaseRoIExtractor, RoIAlign, SingleRoIExtractor
from .sparse_roi_head import SparseRoIHead
from .standard_roi_head import StandardRoIHead

__all__ = [
    'BaseRoIHead',
    'StandardRoIHead',
    'CascadeRoIHead',
    'BBoxHead',
    'ConvFCBBoxHead',
    'Shared2FCBBoxHead',
    'Shared4Conv1FCBBoxHead',
    'FCNMaskHead',
    'BaseRoIExtractor',
    'SingleRoIExtractor',
    'RoIAlign',
    'SparseRoIHead',
    'DynamicMaskHead',
]
