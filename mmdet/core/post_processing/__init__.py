from ..bbox.samplers.score_hlr_sampler import nms_match
from .bbox_nms import (
    batched_nms,
    fast_nms,
    multiclass_nms,
    nms,
    soft_nms,
)
from .matrix_nms import mask_matrix_nms
from .merge_augs import (
    merge_aug_bboxes,
    merge_aug_masks,
    merge_aug_proposals,
    merge_aug_scores,
)

__all__ = [
    'nms_match',
    'multiclass_nms',
    'batched_nms',
    'fast_nms',
    'nms',
    'soft_nms',
    'merge_aug_proposals',
    'merge_aug_bboxes',
    'merge_aug_scores',
    'merge_aug_masks',
    'mask_matrix_nms',
]
