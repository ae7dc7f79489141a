"""Samplers that keep each batch inside one aspect-ratio group.

A data set's ``flag`` (one int per image, e.g. 1 for landscape, 0 for
portrait) splits it into groups; batches drawn from one group pad little.
"""

import math

import numpy as np
import torch
from torch.utils.data import Sampler


def _group_sizes(dataset):
    if not hasattr(dataset, 'flag'):
        raise AttributeError(
            f'{type(dataset).__name__} has no `flag` (one group id per '
            'image): GroupSampler needs it, or use shuffle=False'
        )
    flag = np.asarray(dataset.flag).astype(np.int64)
    return flag, np.bincount(flag)


class GroupSampler(Sampler):
    """Shuffled indices, in chunks of ``samples_per_gpu`` from one group.

    Each group is shuffled and topped up (by repeating some of its indices)
    to a multiple of ``samples_per_gpu``; the chunks of all groups are then
    shuffled. Uses numpy's global random state (seeded by the training
    seed).
    """

    def __init__(self, dataset, samples_per_gpu=1):
        self.dataset = dataset
        self.samples_per_gpu = samples_per_gpu
        self.flag, self.group_sizes = _group_sizes(dataset)
        self.num_samples = sum(
            int(math.ceil(size / samples_per_gpu)) * samples_per_gpu
            for size in self.group_sizes
        )

    def __iter__(self):
        chunks = []
        for group, size in enumerate(self.group_sizes):
            if size == 0:
                continue
            indices = np.flatnonzero(self.flag == group)
            np.random.shuffle(indices)
            extra = -size % self.samples_per_gpu
            indices = np.concatenate(
                [indices, np.random.choice(indices, extra)]
            )
            chunks.extend(
                np.split(indices, len(indices) // self.samples_per_gpu)
            )
        order = np.random.permutation(len(chunks))
        indices = (
            np.concatenate([chunks[i] for i in order])
            if chunks
            else np.zeros(0, dtype=np.int64)
        )
        assert len(indices) == self.num_samples
        return iter(indices.astype(np.int64).tolist())

    def __len__(self):
        return self.num_samples


class DistributedGroupSampler(Sampler):
    """``GroupSampler`` split across processes.

    Every rank builds the same shuffled, group-chunked order (a generator
    seeded with ``seed + epoch``; call ``set_epoch`` each epoch), padded so
    that every rank gets ``num_samples`` indices; rank r takes the r-th
    contiguous run of chunks.

    Args:
        dataset: a data set with ``flag``.
        samples_per_gpu (int): the batch size of one process.
        num_replicas (int | None), rank (int | None): default from
            torch.distributed (``mmcv.runner.get_dist_info``).
        seed (int | None): the same on every rank (None means 0).
    """

    def __init__(
        self, dataset, samples_per_gpu=1, num_replicas=None, rank=None, seed=0
    ):
        from mmcv.runner import get_dist_info

        dist_rank, dist_world = get_dist_info()
        self.num_replicas = (
            dist_world if num_replicas is None else num_replicas
        )
        self.rank = dist_rank if rank is None else rank
        self.dataset = dataset
        self.samples_per_gpu = samples_per_gpu
        self.epoch = 0
        self.seed = seed if seed is not None else 0
        self.flag, self.group_sizes = _group_sizes(dataset)
        chunk = samples_per_gpu * self.num_replicas
        self.num_samples = sum(
            int(math.ceil(size / chunk)) * samples_per_gpu
            for size in self.group_sizes
        )
        self.total_size = self.num_samples * self.num_replicas

    def __iter__(self):
        g = torch.Generator()
        g.manual_seed(self.seed + self.epoch)
        chunk = self.samples_per_gpu * self.num_replicas
        indices = []
        for group, size in enumerate(self.group_sizes):
            if size == 0:
                continue
            members = np.flatnonzero(self.flag == group)
            members = members[torch.randperm(int(size), generator=g).numpy()]
            wanted = int(math.ceil(size / chunk)) * chunk
            # repeat the shuffled members until the group fills its chunks
            repeats = int(math.ceil(wanted / size))
            indices.extend(np.tile(members, repeats)[:wanted].tolist())
        num_chunks = len(indices) // self.samples_per_gpu
        order = torch.randperm(num_chunks, generator=g).tolist()
        indices = [
            indices[c * self.samples_per_gpu + j]
            for c in order
            for j in range(self.samples_per_gpu)
        ]
        assert len(indices) == self.total_size
        start = self.num_samples * self.rank
        return iter(indices[start : start + self.num_samples])

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        self.epoch = epoch
