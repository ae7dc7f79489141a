from .base_roi_head import BaseRoIHead
from .bbox_heads import (
    BBoxHead,
    ConvFCBBoxHead,
    DoubleConvFCBBoxHead,
    Shared2FCBBoxHead,
    Shared4Conv1FCBBoxHead,
)
from .cascade_roi_head import CascadeRoIHead
from .double_roi_head import DoubleHeadRoIHead
from .dynamic_roi_head import DynamicRoIHead
from .grid_roi_head import GridRoIHead
from .htc_roi_head import HybridTaskCascadeRoIHead
from .mask_heads import (
    DynamicMaskHead,
    FCNMaskHead,
    FusedSemanticHead,
    GridHead,
    HTCMaskHead,
    MaskIoUHead,
)
from .mask_scoring_roi_head import MaskScoringRoIHead
from .pisa_roi_head import PISARoIHead
from .point_rend_roi_head import PointRendRoIHead
from .roi_extractors import (
    BaseRoIExtractor,
    GenericRoIExtractor,
    RoIAlign,
    SingleRoIExtractor,
)
from .scnet_roi_head import SCNetRoIHead
from .shared_heads import ResLayer
from .sparse_roi_head import SparseRoIHead
from .standard_roi_head import StandardRoIHead
from .trident_roi_head import TridentRoIHead

__all__ = [
    'SCNetRoIHead',
    'PointRendRoIHead',
    'TridentRoIHead',
    'GridRoIHead',
    'GridHead',
    'BaseRoIHead',
    'StandardRoIHead',
    'PISARoIHead',
    'CascadeRoIHead',
    'BBoxHead',
    'ConvFCBBoxHead',
    'Shared2FCBBoxHead',
    'Shared4Conv1FCBBoxHead',
    'FCNMaskHead',
    'HTCMaskHead',
    'FusedSemanticHead',
    'HybridTaskCascadeRoIHead',
    'BaseRoIExtractor',
    'SingleRoIExtractor',
    'GenericRoIExtractor',
    'RoIAlign',
    'DoubleHeadRoIHead',
    'DoubleConvFCBBoxHead',
    'DynamicRoIHead',
    'MaskIoUHead',
    'MaskScoringRoIHead',
    'ResLayer',
    'SparseRoIHead',
    'DynamicMaskHead',
]
