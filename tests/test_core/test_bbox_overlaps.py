"""bbox_overlaps / BboxOverlaps2D: reference numbers, hand cases, shapes."""

import json
import os.path as osp

import numpy as np
import pytest
import torch

from mmdet.core import BboxOverlaps2D, bbox_overlaps, build_iou_calculator

REF = osp.join(
    osp.dirname(__file__), '..', 'data', 'reference', 'numerics.json'
)


def random_boxes(num, scale=50.0, seed=0):
    gen = torch.Generator().manual_seed(seed)
    xy = torch.rand(num, 2, generator=gen) * scale
    wh = torch.rand(num, 2, generator=gen) * scale + 1
    return torch.cat([xy, xy + wh], dim=1)


def test_reference_iou_and_iof():
    with open(REF) as f:
        ref = json.load(f)['bbox_overlaps']
    a, b = torch.tensor(ref['a']), torch.tensor(ref['b'])
    np.testing.assert_allclose(
        bbox_overlaps(a, b).numpy(), ref['iou'], atol=1e-4
    )
    np.testing.assert_allclose(
        bbox_overlaps(a, b, mode='iof').numpy(), ref['iof'], atol=1e-4
    )


def test_hand_computed_values():
    a = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    b = torch.tensor(
        [
            [5.0, 0.0, 15.0, 10.0],
            [20.0, 0.0, 30.0, 10.0],
            [0.0, 0.0, 10.0, 20.0],
        ]
    )
    # intersections 50, 0, 100; unions 150, 200, 200
    np.testing.assert_allclose(
        bbox_overlaps(a, b).numpy(), [[1 / 3, 0, 0.5]], rtol=1e-6
    )
    # iof divides by the area of a (100)
    np.testing.assert_allclose(
        bbox_overlaps(a, b, mode='iof').numpy(), [[0.5, 0, 1.0]], rtol=1e-6
    )
    # giou: enclosing areas 150, 300, 200
    np.testing.assert_allclose(
        bbox_overlaps(a, b, mode='giou').numpy(),
        [[1 / 3, 0 - 100 / 300, 0.5]],
        rtol=1e-6,
    )


@pytest.mark.parametrize('mode', ['iou', 'iof', 'giou'])
def test_aligned_is_the_diagonal(mode):
    a, b = random_boxes(7, seed=1), random_boxes(7, seed=2)
    full = bbox_overlaps(a, b, mode=mode)
    aligned = bbox_overlaps(a, b, mode=mode, is_aligned=True)
    assert full.shape == (7, 7) and aligned.shape == (7,)
    torch.testing.assert_close(aligned, torch.diagonal(full))


def test_giou_range_and_bound():
    a, b = random_boxes(20, seed=3), random_boxes(30, seed=4)
    giou = bbox_overlaps(a, b, mode='giou')
    iou = bbox_overlaps(a, b)
    assert (giou >= -1).all() and (giou <= 1).all()
    assert (giou <= iou + 1e-6).all()
    assert (giou < 0).any()  # some disjoint pairs
    torch.testing.assert_close(
        bbox_overlaps(a, a, mode='giou', is_aligned=True), torch.ones(20)
    )


def test_empty_inputs():
    boxes = random_boxes(3)
    empty = boxes.new_zeros((0, 4))
    assert bbox_overlaps(empty, boxes).shape == (0, 3)
    assert bbox_overlaps(boxes, empty).shape == (3, 0)
    assert bbox_overlaps(empty, empty, is_aligned=True).shape == (0,)
    assert bbox_overlaps(torch.zeros(2, 0, 4), torch.rand(2, 5, 4)).shape == (
        2,
        0,
        5,
    )
    assert bbox_overlaps(empty, boxes, mode='giou').shape == (0, 3)


def test_batched_shapes_equal_per_batch():
    a = torch.stack([random_boxes(3, seed=s) for s in range(4)]).view(
        2, 2, 3, 4
    )
    b = torch.stack([random_boxes(5, seed=s + 10) for s in range(4)]).view(
        2, 2, 5, 4
    )
    for mode in ('iou', 'iof', 'giou'):
        out = bbox_overlaps(a, b, mode=mode)
        assert out.shape == (2, 2, 3, 5)
        for i in range(2):
            for j in range(2):
                torch.testing.assert_close(
                    out[i, j], bbox_overlaps(a[i, j], b[i, j], mode=mode)
                )
    aligned = bbox_overlaps(a, a.flip(-2), is_aligned=True)
    assert aligned.shape == (2, 2, 3)


def test_degenerate_boxes_give_zero_not_nan():
    point = torch.tensor([[5.0, 5.0, 5.0, 5.0]])
    out = bbox_overlaps(point, point)
    assert torch.isfinite(out).all() and out.item() == 0


def test_bad_input_raises():
    boxes = random_boxes(2)
    with pytest.raises(ValueError, match='mode'):
        bbox_overlaps(boxes, boxes, mode='dice')
    with pytest.raises(ValueError, match='aligned'):
        bbox_overlaps(boxes, random_boxes(3), is_aligned=True)
    with pytest.raises(ValueError, match='batch dims'):
        bbox_overlaps(boxes[None], boxes[None].expand(2, -1, -1))
    with pytest.raises(ValueError, match=r'\(\.\.\., 4\)'):
        bbox_overlaps(boxes[:, :3], boxes)


def test_calculator_ignores_score_column_and_builds():
    calc = build_iou_calculator(dict(type='BboxOverlaps2D'))
    assert isinstance(calc, BboxOverlaps2D)
    a, b = random_boxes(4, seed=5), random_boxes(6, seed=6)
    scored = torch.cat([a, torch.rand(4, 1)], dim=1)
    torch.testing.assert_close(calc(scored, b), bbox_overlaps(a, b))
    torch.testing.assert_close(
        calc(a, b, mode='iof'), bbox_overlaps(a, b, mode='iof')
    )
    with pytest.raises(ValueError, match='columns'):
        calc(a[:, :3], b)
    assert 'BboxOverlaps2D' in repr(calc)


def test_fp16_calculator_is_close_and_float():
    a, b = random_boxes(4, scale=500, seed=7), random_boxes(6, 500, seed=8)
    calc = BboxOverlaps2D(scale=8.0, dtype='fp16')
    out = calc(a, b)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, bbox_overlaps(a, b), atol=2e-3, rtol=0)
