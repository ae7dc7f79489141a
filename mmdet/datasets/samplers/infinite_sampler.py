"""Endless batch samplers for ``IterBasedRunner`` (no epoch boundary)."""

import itertools

import numpy as np
import torch
from mmcv.runner import get_dist_info
from torch.utils.data.sampler import Sampler


class InfiniteBatchSampler(Sampler):
    """Endless batches of ``batch_size`` indices; each rank takes every
    ``world_size``-th index of one shared (seeded) stream of permutations.

    Args:
        dataset: the data set (only its length is used).
        batch_size (int): indices per batch (one process).
        world_size (int | None), rank (int | None): default from
            torch.distributed.
        seed (int): shared by every rank.
        shuffle (bool): permute each pass over the data set.
    """

    def __init__(
        self,
        dataset,
        batch_size=1,
        world_size=None,
        rank=None,
        seed=0,
        shuffle=True,
    ):
        dist_rank, dist_world = get_dist_info()
        self.rank = dist_rank if rank is None else rank
        self.world_size = dist_world if world_size is None else world_size
        self.dataset = dataset
        self.batch_size = batch_size
        self.seed = seed if seed is not None else 0
        self.shuffle = shuffle
        self.size = len(dataset)

    def _indices(self):
        g = torch.Generator()
        g.manual_seed(self.seed)
        while True:
            if self.shuffle:
                yield from torch.randperm(self.size, generator=g).tolist()
            else:
                yield from range(self.size)

    def _rank_indices(self):
        return itertools.islice(
            self._indices(), self.rank, None, self.world_size
        )

    def __iter__(self):
        batch = []
        for idx in self._rank_indices():
            batch.append(idx)
            if len(batch) == self.batch_size:
                yield batch
                batch = []

    def __len__(self):
        return self.size

    def set_epoch(self, epoch):
        """There are no epochs; kept for the runner's seed hook."""


class InfiniteGroupBatchSampler(InfiniteBatchSampler):
    """``InfiniteBatchSampler`` whose batches each come from one
    aspect-ratio group (the data set's ``flag``)."""

    def __init__(
        self,
        dataset,
        batch_size=1,
        world_size=None,
        rank=None,
        seed=0,
        shuffle=True,
    ):
        super().__init__(dataset, batch_size, world_size, rank, seed, shuffle)
        self.flag = np.asarray(dataset.flag).astype(np.int64)

    def __iter__(self):
        buckets = {}
        for idx in self._rank_indices():
            bucket = buckets.setdefault(int(self.flag[idx]), [])
            bucket.append(idx)
            if len(bucket) == self.batch_size:
                yield bucket[:]
                bucket.clear()
