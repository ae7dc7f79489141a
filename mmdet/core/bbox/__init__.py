from .assigners import AssignResult, BaseAssigner, MaxIoUAssigner
from .builder import (
    BBOX_ASSIGNERS,
    BBOX_CODERS,
    BBOX_SAMPLERS,
    build_assigner,
    build_bbox_coder,
    build_sampler,
)
from .coder import (
    BaseBBoxCoder,
    DeltaXYWHBBoxCoder,
    PseudoBBoxCoder,
    bbox2delta,
    delta2bbox,
)
from .iou_calculators import (
    IOU_CALCULATORS,
    BboxOverlaps2D,
    bbox_overlaps,
    build_iou_calculator,
)
from .samplers import BaseSampler, PseudoSampler, RandomSampler, SamplingResult
from .transforms import (
    bbox2distance,
    bbox2result,
    bbox2roi,
    bbox_cxcywh_to_xyxy,
    bbox_flip,
    bbox_mapping,
    bbox_mapping_back,
    bbox_rescale,
    bbox_xyxy_to_cxcywh,
    clip_bboxes,
    distance2bbox,
    find_inside_bboxes,
    roi2bbox,
)

__all__ = [
    'clip_bboxes',
    'bbox_overlaps', 'BboxOverlaps2D', 'IOU_CALCULATORS',
    'build_iou_calculator', 'BaseAssigner', 'MaxIoUAssigner', 'AssignResult',
    'BaseSampler', 'PseudoSampler', 'RandomSampler', 'SamplingResult',
    'BBOX_ASSIGNERS', 'BBOX_SAMPLERS', 'BBOX_CODERS', 'build_assigner',
    'build_sampler', 'build_bbox_coder', 'BaseBBoxCoder', 'PseudoBBoxCoder',
    'DeltaXYWHBBoxCoder', 'bbox2delta', 'delta2bbox', 'bbox_flip',
    'bbox_mapping', 'bbox_mapping_back', 'bbox2roi', 'roi2bbox',
    'bbox2result', 'distance2bbox', 'bbox2distance', 'bbox_rescale',
    'bbox_cxcywh_to_xyxy', 'bbox_xyxy_to_cxcywh', 'find_inside_bboxes'
]
