from .coco_api import (
    COCO,
    AnnotationFileError,
    COCOeval,
    has_mask,
    segmentation_problem,
)

__all__ = [
    'AnnotationFileError',
    'COCO',
    'COCOeval',
    'has_mask',
    'segmentation_problem',
]
