"""Data loaders: collated, padded batches from worker processes, group
samplers, distributed samplers and worker seeding."""

import numpy as np
import pytest
import torch
from mmcv.parallel import DataContainer
from torch.utils.data import Dataset

from mmdet.datasets import (
    DistributedGroupSampler,
    DistributedSampler,
    GroupSampler,
    InfiniteBatchSampler,
    InfiniteGroupBatchSampler,
    build_dataloader,
    build_dataset,
)

TRAIN_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', img_scale=(128, 128), keep_ratio=True),
    dict(type='RandomFlip', flip_ratio=0.5),
    dict(
        type='Normalize',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True,
    ),
    dict(type='Pad', size_divisor=32),
    dict(type='DefaultFormatBundle'),
    dict(type='Collect', keys=['img', 'gt_bboxes', 'gt_labels', 'gt_masks']),
]


def test_loader_with_workers_pads_and_stacks(coco_cfg):
    dataset = build_dataset(coco_cfg('train', TRAIN_PIPELINE))
    loader = build_dataloader(
        dataset,
        samples_per_gpu=2,
        workers_per_gpu=2,
        dist=False,
        shuffle=True,
        seed=0,
    )
    assert isinstance(loader.sampler, GroupSampler)
    assert loader.num_workers == 2
    seen = []
    for batch in loader:
        assert isinstance(batch['img'], DataContainer) and batch['img'].stack
        imgs = batch['img'].data[0]  # one stacked tensor per GPU
        metas = batch['img_metas'].data[0]
        assert imgs.ndim == 4 and imgs.shape[0] == 2
        assert imgs.shape[2] % 32 == 0 and imgs.shape[3] % 32 == 0
        pad_h, pad_w = imgs.shape[2:]
        groups = set()
        for img, meta in zip(imgs, metas):
            h, w = meta['img_shape'][:2]
            assert h <= pad_h and w <= pad_w
            # beyond the image: zeros (pipeline and collate padding)
            assert (
                img[:, h:].abs().sum() == 0 and img[:, :, w:].abs().sum() == 0
            )
            groups.add(int(w / h > 1))
            seen.append(meta['ori_filename'])
        assert len(groups) == 1, 'a batch mixes aspect-ratio groups'
        assert len(batch['gt_bboxes'].data[0]) == 2
        assert batch['gt_masks'].cpu_only
        masks = batch['gt_masks'].data[0]
        assert all(
            len(m) == len(b) for m, b in zip(masks, batch['gt_bboxes'].data[0])
        )
    names = {info['filename'] for info in dataset.data_infos}
    assert set(seen) == names


class FlagDataset(Dataset):
    """Indices as samples, with a given group flag."""

    def __init__(self, flag):
        self.flag = np.asarray(flag, dtype=np.uint8)

    def __len__(self):
        return len(self.flag)

    def __getitem__(self, idx):
        return idx


FLAGS = [0, 1, 1, 0, 1, 1, 1, 0, 1]  # groups of 3 and 6


def chunks(indices, size):
    return [indices[i : i + size] for i in range(0, len(indices), size)]


def test_group_sampler_batches_one_group():
    np.random.seed(0)
    sampler = GroupSampler(FlagDataset(FLAGS), samples_per_gpu=2)
    indices = list(sampler)
    assert len(indices) == len(sampler) == 4 + 6  # each group padded to 2k
    assert set(indices) == set(range(len(FLAGS)))
    for chunk in chunks(indices, 2):
        assert len({FLAGS[i] for i in chunk}) == 1
    assert list(sampler) != indices  # reshuffled each epoch
    with pytest.raises(AttributeError, match='flag'):
        GroupSampler(list(range(4)))


def test_distributed_group_sampler_splits_and_seeds():
    ds = FlagDataset(FLAGS)
    parts = [
        list(DistributedGroupSampler(ds, 2, num_replicas=2, rank=r, seed=3))
        for r in range(2)
    ]
    assert len(parts[0]) == len(parts[1])
    assert set(parts[0]) | set(parts[1]) == set(range(len(FLAGS)))
    for part in parts:
        for chunk in chunks(part, 2):
            assert len({FLAGS[i] for i in chunk}) == 1
    again = list(
        DistributedGroupSampler(ds, 2, num_replicas=2, rank=0, seed=3)
    )
    assert again == parts[0]
    sampler = DistributedGroupSampler(ds, 2, num_replicas=2, rank=0, seed=3)
    sampler.set_epoch(1)
    assert list(sampler) != parts[0]


def test_distributed_sampler_order_for_testing():
    ds = FlagDataset([0] * 5)
    parts = [
        list(DistributedSampler(ds, num_replicas=2, rank=r, shuffle=False))
        for r in range(2)
    ]
    assert parts == [[0, 2, 4], [1, 3, 0]]  # padded by wrapping around


def test_build_dataloader_picks_samplers():
    ds = FlagDataset(FLAGS)
    dist_loader = build_dataloader(ds, 2, 0, dist=True, seed=0)
    assert isinstance(dist_loader.sampler, DistributedGroupSampler)
    test_loader = build_dataloader(ds, 1, 0, dist=True, shuffle=False)
    assert isinstance(test_loader.sampler, DistributedSampler)
    plain = build_dataloader(ds, 3, 0, dist=False, shuffle=False)
    assert [b.tolist() for b in plain] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    endless = build_dataloader(
        ds, 2, 0, dist=False, seed=0, runner_type='IterBasedRunner'
    )
    assert isinstance(endless.batch_sampler, InfiniteGroupBatchSampler)
    batches = iter(endless)
    for _ in range(12):  # more than one pass
        batch = next(batches).tolist()
        assert len(batch) == 2 and len({FLAGS[i] for i in batch}) == 1


def test_infinite_batch_sampler_splits_ranks():
    ds = FlagDataset([0] * 6)
    streams = [
        iter(
            InfiniteBatchSampler(
                ds, 3, world_size=2, rank=r, seed=1, shuffle=False
            )
        )
        for r in range(2)
    ]
    assert next(streams[0]) == [0, 2, 4] and next(streams[1]) == [1, 3, 5]
    assert next(streams[0]) == [0, 2, 4]


class RandomDataset(Dataset):
    """Returns numpy random numbers: differs per worker when seeded."""

    def __len__(self):
        return 8

    def __getitem__(self, idx):
        return np.random.rand()


def _draws(seed):
    loader = build_dataloader(
        RandomDataset(), 1, 2, dist=False, shuffle=False, seed=seed
    )
    return [float(x) for x in loader]


def test_worker_seeding_is_reproducible_and_distinct():
    first, second = _draws(seed=5), _draws(seed=5)
    assert first == second
    # workers 0 and 1 alternate batches: their streams differ
    assert first[0::2] != first[1::2]
    assert _draws(seed=6) != first
    assert torch.is_tensor(
        next(
            iter(
                build_dataloader(
                    RandomDataset(), 2, 0, dist=False, shuffle=False
                )
            )
        )
    )
