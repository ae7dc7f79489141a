from .base_bbox_coder import BaseBBoxCoder
from .bucketing_bbox_coder import (
    BucketingBBoxCoder,
    bbox2bucket,
    bucket2bbox,
)
from .delta_xywh_bbox_coder import DeltaXYWHBBoxCoder, bbox2delta, delta2bbox
from .distance_point_bbox_coder import DistancePointBBoxCoder
from .legacy_delta_xywh_bbox_coder import (
    LegacyDeltaXYWHBBoxCoder,
    legacy_bbox2delta,
    legacy_delta2bbox,
)
from .pseudo_bbox_coder import PseudoBBoxCoder
from .tblr_bbox_coder import TBLRBBoxCoder, bboxes2tblr, tblr2bboxes
from .yolo_bbox_coder import YOLOBBoxCoder

__all__ = [
    'LegacyDeltaXYWHBBoxCoder',
    'legacy_bbox2delta',
    'legacy_delta2bbox',
    'TBLRBBoxCoder',
    'bboxes2tblr',
    'tblr2bboxes',
    'YOLOBBoxCoder',
    'BaseBBoxCoder',
    'PseudoBBoxCoder',
    'DeltaXYWHBBoxCoder',
    'bbox2delta',
    'delta2bbox',
    'DistancePointBBoxCoder',
    'BucketingBBoxCoder',
    'bbox2bucket',
    'bucket2bbox',
]
