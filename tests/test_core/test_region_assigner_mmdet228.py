"""RegionAssigner against MMDetection 2.28.2's assignments (two settings,
including the image border), and its level rule by hand."""

import os.path as osp

import numpy as np
import torch

from mmdet.core import build_assigner
from mmdet.core.anchor import AnchorGenerator

REF = np.load(
    osp.join(osp.dirname(__file__), '..', 'data', 'mm228_region_assigner.npz')
)
SIZES = [(32, 32), (16, 16), (8, 8), (4, 4), (2, 2)]
STRIDES = [4, 8, 16, 32, 64]
GTS = torch.tensor(
    [
        [8.0, 12.0, 80.0, 60.0],
        [40.0, 20.0, 120.0, 116.0],
        [30.0, 30.0, 46.0, 44.0],
        [100.0, 100.0, 110.0, 108.0],
    ]
)


def _anchors():
    gen = AnchorGenerator(strides=STRIDES, ratios=[1.0], scales=[8])
    anchors = gen.grid_priors(SIZES, device='cpu')
    flags = gen.valid_flags(SIZES, (128, 128), device='cpu')
    return anchors, flags


def test_region_assigner_matches_mmdet():
    anchors, flags = _anchors()
    assigner = build_assigner(
        dict(type='RegionAssigner', center_ratio=0.2, ignore_ratio=0.5)
    )
    res = assigner.assign(
        anchors,
        flags,
        GTS,
        dict(img_shape=(120, 128, 3)),
        SIZES,
        8,
        STRIDES,
        allowed_border=-1,
    )
    np.testing.assert_array_equal(res.gt_inds.numpy(), REF['gt_inds'])
    assigner = build_assigner(
        dict(type='RegionAssigner', center_ratio=0.3, ignore_ratio=0.6)
    )
    res = assigner.assign(
        anchors,
        flags,
        GTS[:2],
        dict(img_shape=(100, 128, 3)),
        SIZES,
        8,
        STRIDES,
        allowed_border=0,
    )
    np.testing.assert_array_equal(res.gt_inds.numpy(), REF['gt_inds2'])


def test_region_assigner_level_and_centre():
    """A 64 x 64 gt (log2(64 / 32) = 1) goes to level 1 (stride 8); its
    positives are the anchors centred in its central 20 % there."""
    anchors, flags = _anchors()
    gt = torch.tensor([[32.0, 32.0, 96.0, 96.0]])
    res = build_assigner(dict(type='RegionAssigner')).assign(
        anchors, flags, gt, dict(img_shape=(128, 128, 3)), SIZES, 8, STRIDES
    )
    counts = [h * w for h, w in SIZES]
    per_level = res.gt_inds.split(counts)
    assert all((lvl <= 0).all() for i, lvl in enumerate(per_level) if i != 1)
    pos = (per_level[1] == 1).nonzero().view(-1)
    centres = (anchors[1][pos, :2] + anchors[1][pos, 2:]) / 2 / 8
    # the region is cells 7.2..8.8 of 4..12, rounded to 7..9
    assert ((centres >= 7) & (centres <= 9)).all() and len(pos) > 0
