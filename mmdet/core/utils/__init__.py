from .dist_utils import (
    DistOptimizerHook,
    all_reduce_dict,
    allreduce_grads,
    reduce_mean,
    sync_random_seed,
)
from .misc import (
    center_of_mass,
    filter_scores_and_topk,
    flip_tensor,
    generate_coordinate,
    mask2ndarray,
    multi_apply,
    select_single_mlvl,
    sort_descending,
    unmap,
)

__all__ = [
    'DistOptimizerHook',
    'all_reduce_dict',
    'allreduce_grads',
    'center_of_mass',
    'filter_scores_and_topk',
    'flip_tensor',
    'generate_coordinate',
    'mask2ndarray',
    'multi_apply',
    'reduce_mean',
    'select_single_mlvl',
    'sort_descending',
    'sync_random_seed',
    'unmap',
]
