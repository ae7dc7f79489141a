"""Reductions across the processes of distributed training.

Every function is the identity (or a local computation) when
``torch.distributed`` is not initialized, so single-process code can call
them unconditionally.
"""
from collections import OrderedDict

import numpy as np
import torch
import torch.distributed as dist
from torch._utils import (_flatten_dense_tensors, _take_tensors,
                          _unflatten_dense_tensors)


def _dist_ready():
    return dist.is_available() and dist.is_initialized()


def reduce_mean(tensor):
    """The mean of ``tensor`` over all processes (a new tensor)."""
    if not _dist_ready():
        return tensor
    tensor = tensor.clone()
    dist.all_reduce(tensor.div_(dist.get_world_size()), op=dist.ReduceOp.SUM)
    return tensor


def all_reduce_dict(py_dict, op='sum', group=None, to_float=True):
    """Sum (or average) a dict of tensors over all processes.

    Every process must hold the same keys; the tensors are flattened into
    one buffer, so there is a single all-reduce.

    Args:
        py_dict (dict[str, Tensor]): the tensors.
        op (str): 'sum' or 'mean'.
        group: the process group (default: all).
        to_float (bool): reduce in float32 (integers would truncate a
            mean).

    Returns:
        OrderedDict: the reduced tensors, in the order of the keys.
    """
    if op not in ('sum', 'mean'):
        raise ValueError(f"op must be 'sum' or 'mean', got {op!r}")
    if not _dist_ready():
        return OrderedDict(py_dict)
    world_size = dist.get_world_size(group)
    keys = list(py_dict.keys())
    tensors = [py_dict[k] for k in keys]
    shapes = [t.shape for t in tensors]
    if to_float:
        tensors = [t.float() for t in tensors]
    flat = torch.cat([t.flatten() for t in tensors])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM, group=group)
    if op == 'mean':
        flat /= world_size
    sizes = [int(np.prod(s)) for s in shapes]
    parts = flat.split(sizes)
    return OrderedDict(
        (k, part.reshape(shape)) for k, part, shape in zip(keys, parts,
                                                            shapes))


def _allreduce_coalesced(tensors, world_size, bucket_size_mb=-1):
    if bucket_size_mb > 0:
        buckets = _take_tensors(tensors, bucket_size_mb * 1024 * 1024)
    else:
        by_type = OrderedDict()
        for tensor in tensors:
            by_type.setdefault(tensor.type(), []).append(tensor)
        buckets = by_type.values()
    for bucket in buckets:
        flat = _flatten_dense_tensors(bucket)
        dist.all_reduce(flat)
        flat.div_(world_size)
        for tensor, synced in zip(
                bucket, _unflatten_dense_tensors(flat, bucket)):
            tensor.copy_(synced)


def allreduce_grads(params, coalesce=True, bucket_size_mb=-1):
    """Average the gradients of ``params`` over all processes in place."""
    if not _dist_ready():
        return
    grads = [
        p.grad.data for p in params if p.requires_grad and p.grad is not None
    ]
    world_size = dist.get_world_size()
    if coalesce:
        _allreduce_coalesced(grads, world_size, bucket_size_mb)
    else:
        for tensor in grads:
            dist.all_reduce(tensor.div_(world_size))


def sync_random_seed(seed=None, device=None):
    """One random seed shared by all processes (rank 0's).

    Distributed samplers must shuffle identically on every rank; a seed
    drawn independently per process would not.

    Args:
        seed (int, optional): the seed; random when None.
        device (str | torch.device, optional): where the broadcast tensor
            lives; by default CUDA for NCCL and the CPU otherwise.

    Returns:
        int: the seed of rank 0.
    """
    if seed is None:
        seed = np.random.randint(2**31)
    if not isinstance(seed, int):
        raise TypeError(f'seed must be an int, got {type(seed)}')
    if not _dist_ready() or dist.get_world_size() == 1:
        return seed
    if device is None:
        device = 'cuda' if dist.get_backend() == 'nccl' else 'cpu'
    value = torch.tensor(
        seed if dist.get_rank() == 0 else 0, dtype=torch.int32, device=device)
    dist.broadcast(value, src=0)
    return int(value.item())
