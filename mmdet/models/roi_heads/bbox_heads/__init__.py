from .bbox_head import BBoxHead
from .convfc_bbox_head import (
    ConvFCBBoxHead,
    Shared2FCBBoxHead,
    Shared4Conv1FCBBoxHead,
)
from .dii_head import DIIHead
from .double_bbox_head import DoubleConvFCBBoxHead
from .sabl_head import SABLHead

__all__ = [
    'BBoxHead',
    'ConvFCBBoxHead',
    'Shared2FCBBoxHead',
    'Shared4Conv1FCBBoxHead',
    'DoubleConvFCBBoxHead',
    'DIIHead',
    'SABLHead',
]
