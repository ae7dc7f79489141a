from .dist_utils import (all_reduce_dict, allreduce_grads, reduce_mean,
                         sync_random_seed)
from .misc import (center_of_mass, filter_scores_and_topk, flip_tensor,
                   floordiv, generate_coordinate, mask2ndarray, multi_apply,
                   select_single_mlvl, unmap)

__all__ = [
    'allreduce_grads', 'reduce_mean', 'multi_apply', 'unmap', 'mask2ndarray',
    'flip_tensor', 'all_reduce_dict', 'center_of_mass', 'generate_coordinate',
    'select_single_mlvl', 'filter_scores_and_topk', 'sync_random_seed',
    'floordiv'
]
