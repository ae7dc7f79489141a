"""Helpers MMDetection 2.x code (its unit tests among them) imports:
random boxes and assignments for tests, ``mask2ndarray``."""

import numpy as np
import pytest
import torch

from mmdet.core.bbox.assigners.assign_result import AssignResult
from mmdet.core.bbox.demodata import ensure_rng, random_boxes
from mmdet.core.mask import BitmapMasks, PolygonMasks
from mmdet.core.utils import mask2ndarray


def test_ensure_rng():
    assert ensure_rng(None) is np.random.mtrand._rand
    a, b = ensure_rng(3), ensure_rng(3)
    assert a is not b and a.rand() == b.rand()
    state = np.random.RandomState(0)
    assert ensure_rng(state) is state


def test_random_boxes_are_ordered_and_reproducible():
    boxes = random_boxes(50, scale=512, rng=0)
    assert boxes.shape == (50, 4) and boxes.dtype == torch.float32
    assert (boxes[:, 2:] >= boxes[:, :2]).all()
    assert boxes.min() >= 0 and boxes.max() < 512
    assert torch.equal(boxes, random_boxes(50, scale=512, rng=0))
    assert random_boxes(0).shape == (0, 4)


@pytest.mark.parametrize(
    'num_gts,num_preds', [(0, 0), (0, 3), (3, 3), (7, 64), (24, 3), (5, 0)]
)
def test_random_assign_result_is_consistent(num_gts, num_preds):
    for seed in range(5):
        res = AssignResult.random(
            num_gts=num_gts, num_preds=num_preds, rng=seed, p_use_label=True
        )
        assert res.num_gts == num_gts and res.num_preds == num_preds
        inds = res.gt_inds
        assert inds.dtype == torch.long
        assert ((inds >= -1) & (inds <= num_gts)).all()
        positive = inds[inds > 0]
        assert len(positive.unique()) == len(positive)  # one box per gt
        assert (res.max_overlaps[inds == 0] == 0).all()
        assert (res.labels[inds <= 0] == -1).all()
        assert ((res.labels[inds > 0] >= 0) & (res.labels[inds > 0] < 3)).all()
    assert AssignResult.random(rng=0, p_use_label=False).labels is None
    AssignResult.random()  # all defaults


def test_mask2ndarray():
    bitmap = np.random.rand(2, 8, 9) > 0.5
    assert (mask2ndarray(BitmapMasks(bitmap, 8, 9)) == bitmap).all()
    square = np.array([1.0, 1, 5, 1, 5, 5, 1, 5])
    assert mask2ndarray(PolygonMasks([[square]], 8, 9)).shape == (1, 8, 9)
    assert (mask2ndarray(torch.from_numpy(bitmap)) == bitmap).all()
    assert mask2ndarray(bitmap) is bitmap
    with pytest.raises(TypeError):
        mask2ndarray([bitmap])
