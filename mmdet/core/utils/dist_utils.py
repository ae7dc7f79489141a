"""Reductions across the processes of distributed training.

Each function is the identity when ``torch.distributed`` is not
initialized, so single-process code can call it unconditionally.
"""

import torch.distributed as dist


def _dist_ready():
    return dist.is_available() and dist.is_initialized()


def reduce_mean(tensor):
    """The mean of ``tensor`` over all processes (a new tensor).

    The dense heads use it to average their positive-sample counts, so the
    loss normalisation is the same on every GPU.
    """
    if not _dist_ready():
        return tensor
    tensor = tensor.clone()
    dist.all_reduce(tensor.div_(dist.get_world_size()), op=dist.ReduceOp.SUM)
    return tensor
