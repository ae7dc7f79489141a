from .dist_utils import reduce_mean
from .misc import (
    filter_scores_and_topk,
    mask2ndarray,
    select_single_mlvl,
    unmap,
)

__all__ = [
    'unmap',
    'reduce_mean',
    'select_single_mlvl',
    'filter_scores_and_topk',
    'mask2ndarray',
]
