"""Reductions across the processes of distributed training.

Each function is the identity when ``torch.distributed`` is not
initialized, so single-process code can call it unconditionally.
"""

import warnings
from collections import OrderedDict

import numpy as np
import torch
import torch.distributed as dist
from mmcv.runner import OptimizerHook

from mmdet.utils.arg_errors import InvalidArgumentError


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


def all_reduce_dict(py_dict, op='sum', group=None, to_float=True):
    """Sum (or average, ``op='mean'``) every tensor of ``py_dict`` over
    the processes; the dict is returned unchanged in one process.

    Args:
        py_dict (dict[str, Tensor]): the same keys in every process.
        op (str): 'sum' or 'mean'.
        group: the process group (default: all processes).
        to_float (bool): reduce in float (integer tensors too).

    Returns:
        OrderedDict: the reduced tensors, keys in ``py_dict``'s order.
    """
    if op not in ('sum', 'mean'):
        raise InvalidArgumentError(f"op must be 'sum' or 'mean', got {op!r}")
    if not _dist_ready():
        return py_dict
    world_size = dist.get_world_size(group)
    reduced = OrderedDict()
    for key, value in py_dict.items():
        value = value.float() if to_float else value.clone()
        dist.all_reduce(value, op=dist.ReduceOp.SUM, group=group)
        reduced[key] = value / world_size if op == 'mean' else value
    return reduced


def allreduce_grads(params, coalesce=True, bucket_size_mb=-1):
    """Average the gradients of ``params`` over the processes (in place).

    ``coalesce`` and ``bucket_size_mb`` are accepted for MMDetection's
    signature; each gradient is reduced on its own.
    """
    if not _dist_ready():
        return
    world_size = dist.get_world_size()
    for param in params:
        if param.requires_grad and param.grad is not None:
            dist.all_reduce(param.grad.data.div_(world_size))


def sync_random_seed(seed=None, device='cuda'):
    """One random seed for all processes: rank 0's ``seed`` (a random one
    when None), broadcast so that e.g. every sampler shuffles alike.

    Args:
        seed (int | None): the seed; None draws one in [0, 2**31).
        device (str): where the broadcast tensor lives ('cpu' with Gloo).

    Returns:
        int: the seed.
    """
    if seed is None:
        seed = np.random.randint(2**31)
    if not _dist_ready() or dist.get_world_size() == 1:
        return seed
    value = torch.tensor(
        seed if dist.get_rank() == 0 else 0, dtype=torch.int64, device=device
    )
    dist.broadcast(value, src=0)
    return int(value.item())


class DistOptimizerHook(OptimizerHook):
    """MMDetection's deprecated name of mmcv's ``OptimizerHook``."""

    def __init__(self, *args, **kwargs):
        warnings.warn(
            'DistOptimizerHook is deprecated; use mmcv.runner.OptimizerHook',
            DeprecationWarning,
        )
        super().__init__(*args, **kwargs)
