from .builder import IOU_CALCULATORS, build_iou_calculator
from .iou2d_calculator import BboxOverlaps2D, bbox_overlaps

__all__ = [
    'IOU_CALCULATORS',
    'build_iou_calculator',
    'BboxOverlaps2D',
    'bbox_overlaps',
]
