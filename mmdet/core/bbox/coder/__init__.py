from .base_bbox_coder import BaseBBoxCoder
from .delta_xywh_bbox_coder import DeltaXYWHBBoxCoder, bbox2delta, delta2bbox
from .distance_point_bbox_coder import DistancePointBBoxCoder
from .pseudo_bbox_coder import PseudoBBoxCoder

__all__ = [
    'BaseBBoxCoder',
    'PseudoBBoxCoder',
    'DeltaXYWHBBoxCoder',
    'bbox2delta',
    'delta2bbox',
    'DistancePointBBoxCoder',
]
