"""Registries, ``build_dataset`` and ``build_dataloader``.

``build_dataset`` understands what MMDetection 2.x configs write: one data
set dict, a list of them (concatenated), ``type='ConcatDataset'`` /
``'RepeatDataset'`` / ``'ClassBalancedDataset'`` /
``'MultiImageMixDataset'`` wrappers, and an
``ann_file`` list (one data set per file, concatenated).
"""

import copy
import ctypes
import os
import random
import signal
import sys
from functools import partial

import numpy as np
import torch
from mmcv.parallel import collate
from mmcv.runner import get_dist_info
from torch.utils.data import DataLoader

from mmdet.utils import build_from_cfg
from .dataset_wrappers import (
    ClassBalancedDataset,
    ConcatDataset,
    MultiImageMixDataset,
    RepeatDataset,
)
from .registry import DATASETS, PIPELINES
from .samplers import (
    DistributedGroupSampler,
    DistributedSampler,
    GroupSampler,
    InfiniteBatchSampler,
    InfiniteGroupBatchSampler,
)

__all__ = [
    'DATASETS',
    'PIPELINES',
    'build_dataloader',
    'build_dataset',
    'worker_init_fn',
]


def _concat_dataset(cfg, default_args=None):
    """One data set per entry of ``cfg['ann_file']`` (a list), with the
    matching entry of ``img_prefix`` / ``seg_prefix`` / ``proposal_file``
    when those are lists too; concatenated."""
    ann_files = cfg['ann_file']
    per_file_keys = ('img_prefix', 'seg_prefix', 'proposal_file')
    for key in per_file_keys:
        value = cfg.get(key)
        if isinstance(value, (list, tuple)) and len(value) != len(ann_files):
            raise ValueError(
                f'{key} has {len(value)} entries for '
                f'{len(ann_files)} ann_file entries'
            )
    datasets = []
    for i, ann_file in enumerate(ann_files):
        data_cfg = copy.deepcopy(cfg)
        data_cfg.pop('separate_eval', None)
        data_cfg['ann_file'] = ann_file
        for key in per_file_keys:
            if isinstance(cfg.get(key), (list, tuple)):
                data_cfg[key] = cfg[key][i]
        datasets.append(build_dataset(data_cfg, default_args))
    return ConcatDataset(datasets, cfg.get('separate_eval', True))


def build_dataset(cfg, default_args=None):
    """Build a data set (or wrapper) from its config dict.

    Args:
        cfg (dict | list[dict]): the data set config(s).
        default_args (dict | None): defaults for the data set's arguments,
            e.g. ``dict(test_mode=True)``.
    """
    if isinstance(cfg, (list, tuple)):
        return ConcatDataset([build_dataset(c, default_args) for c in cfg])
    kind = cfg.get('type')
    if kind == 'ConcatDataset':
        return ConcatDataset(
            [build_dataset(c, default_args) for c in cfg['datasets']],
            cfg.get('separate_eval', True),
        )
    if kind == 'RepeatDataset':
        return RepeatDataset(
            build_dataset(cfg['dataset'], default_args), cfg['times']
        )
    if kind == 'ClassBalancedDataset':
        return ClassBalancedDataset(
            build_dataset(cfg['dataset'], default_args),
            cfg['oversample_thr'],
            filter_empty_gt=cfg.get('filter_empty_gt', True),
        )
    if kind == 'MultiImageMixDataset':
        args = {k: v for k, v in cfg.items() if k not in ('type', 'dataset')}
        return MultiImageMixDataset(
            build_dataset(cfg['dataset'], default_args), **args
        )
    if isinstance(cfg.get('ann_file'), (list, tuple)):
        return _concat_dataset(cfg, default_args)
    return build_from_cfg(cfg, DATASETS, default_args)


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def exit_with_parent(parent_pid):
    """Make this loader worker die with the process that started it.

    A worker notices a dead trainer only between samples, and one whose
    queue to the trainer is full waits forever at exit, so a trainer killed
    with SIGKILL could leave its workers running. On Linux the kernel sends
    the worker SIGKILL when its parent dies (``prctl(PR_SET_PDEATHSIG)``);
    a parent already gone ends the worker at once.
    """
    if sys.platform.startswith('linux'):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # no usable libc: best effort
            pass
    if os.getppid() != parent_pid:
        os._exit(1)


def _init_worker(worker_id, parent_pid, num_workers, rank, seed):
    exit_with_parent(parent_pid)
    if seed is not None:
        worker_init_fn(worker_id, num_workers, rank, seed)


def worker_init_fn(worker_id, num_workers, rank, seed):
    """Seed numpy, random and torch in a loader worker: every worker of
    every rank gets its own seed, ``seed + rank * num_workers + id``."""
    worker_seed = num_workers * rank + worker_id + seed
    np.random.seed(worker_seed)
    random.seed(worker_seed)
    torch.manual_seed(worker_seed)


def _samplers(
    dataset,
    samples_per_gpu,
    dist,
    shuffle,
    seed,
    runner_type,
    rank,
    world_size,
):
    """(sampler, batch_sampler) for the loader."""
    if runner_type == 'IterBasedRunner':
        cls = InfiniteGroupBatchSampler if shuffle else InfiniteBatchSampler
        return None, cls(
            dataset,
            samples_per_gpu,
            world_size,
            rank,
            seed=seed if seed is not None else 0,
        )
    if dist:
        if shuffle:
            return DistributedGroupSampler(
                dataset, samples_per_gpu, world_size, rank, seed=seed
            ), None
        return DistributedSampler(
            dataset, world_size, rank, shuffle=False, seed=seed
        ), None
    return (GroupSampler(dataset, samples_per_gpu) if shuffle else None), None


def build_dataloader(
    dataset,
    samples_per_gpu,
    workers_per_gpu,
    num_gpus=1,
    dist=True,
    shuffle=True,
    seed=None,
    runner_type='EpochBasedRunner',
    persistent_workers=False,
    class_aware_sampler=None,
    **kwargs,
):
    """A PyTorch DataLoader that batches the mmcv way.

    Samples are merged by ``mmcv.parallel.collate``: image DataContainers
    are padded to a common size and stacked per GPU, so ``MMDataParallel``
    / ``MMDistributedDataParallel`` can scatter them.

    Args:
        dataset (Dataset): the data set.
        samples_per_gpu (int): images per GPU (per process when ``dist``).
        workers_per_gpu (int): loader worker processes per GPU.
        num_gpus (int): GPUs of this process (non-distributed only).
        dist (bool): distributed training: one process per GPU, the data
            set split across processes.
        shuffle (bool): shuffle (group-aware) every epoch.
        seed (int | None): seeds the workers (and distributed samplers).
        runner_type (str): 'IterBasedRunner' uses endless batch samplers.
        persistent_workers (bool): keep workers alive across epochs (only
            with workers).
        class_aware_sampler (dict | None): not supported here (MMDetection
            2.28's ClassAwareSampler); must be None.
        kwargs: more DataLoader arguments (``pin_memory``, ...).
    """
    if class_aware_sampler is not None:
        raise NotImplementedError(
            'class_aware_sampler is not supported; '
            'remove it from the data loader config'
        )
    rank, world_size = get_dist_info()
    if dist:
        batch_size, num_workers = samples_per_gpu, workers_per_gpu
    else:
        batch_size = num_gpus * samples_per_gpu
        num_workers = num_gpus * workers_per_gpu
    sampler, batch_sampler = _samplers(
        dataset,
        samples_per_gpu,
        dist,
        shuffle,
        seed,
        runner_type,
        rank,
        world_size,
    )
    init_fn = partial(
        _init_worker,
        parent_pid=os.getpid(),
        num_workers=num_workers,
        rank=rank,
        seed=seed,
    )
    if num_workers > 0:
        kwargs['persistent_workers'] = persistent_workers
    loader_kwargs = dict(
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        collate_fn=partial(collate, samples_per_gpu=samples_per_gpu),
        pin_memory=kwargs.pop('pin_memory', False),
        worker_init_fn=init_fn,
        **kwargs,
    )
    if batch_sampler is not None:
        loader_kwargs.pop('batch_size')
        loader_kwargs['batch_sampler'] = batch_sampler
    return DataLoader(dataset, **loader_kwargs)
