"""DeltaXYWHBBoxCoder: reference numbers, round trip, clamping, batching."""

import json
import math
import os.path as osp

import numpy as np
import pytest
import torch

from mmdet.core import (
    DeltaXYWHBBoxCoder,
    PseudoBBoxCoder,
    bbox2delta,
    build_bbox_coder,
    delta2bbox,
)

REF = osp.join(
    osp.dirname(__file__), '..', 'data', 'reference', 'numerics.json'
)
MAX_RATIO = abs(math.log(16 / 1000))


def random_boxes(num, seed=0, scale=100.0):
    gen = torch.Generator().manual_seed(seed)
    xy = torch.rand(num, 2, generator=gen) * scale
    wh = torch.rand(num, 2, generator=gen) * scale + 2
    return torch.cat([xy, xy + wh], dim=1)


@pytest.fixture(scope='module')
def ref():
    with open(REF) as f:
        return json.load(f)['delta_xywh_coder']


def test_reference_encode_decode(ref):
    coder = DeltaXYWHBBoxCoder(
        target_means=(0.0, 0.0, 0.0, 0.0), target_stds=(0.1, 0.1, 0.2, 0.2)
    )
    proposals = torch.tensor(ref['proposals'])
    encoded = coder.encode(proposals, torch.tensor(ref['gt']))
    np.testing.assert_allclose(encoded.numpy(), ref['encode'], atol=1e-4)
    decoded = coder.decode(
        proposals, torch.tensor(ref['deltas']), max_shape=(120, 160)
    )
    np.testing.assert_allclose(decoded.numpy(), ref['decode'], atol=1e-4)


def test_encode_by_hand():
    coder = DeltaXYWHBBoxCoder()
    proposal = torch.tensor(
        [[0.0, 0.0, 10.0, 20.0]]
    )  # centre (5, 10), 10 x 20
    gt = torch.tensor([[5.0, 5.0, 25.0, 25.0]])  # centre (15, 15), 20 x 20
    np.testing.assert_allclose(
        coder.encode(proposal, gt).numpy(),
        [[1.0, 0.25, math.log(2), 0.0]],
        rtol=1e-6,
    )
    normed = DeltaXYWHBBoxCoder(
        target_means=(1.0, 0.0, 0.0, 0.0), target_stds=(2.0, 1.0, 1.0, 0.5)
    )
    np.testing.assert_allclose(
        normed.encode(proposal, gt).numpy(),
        [[0.0, 0.25, math.log(2), 0.0]],
        atol=1e-6,
    )


def test_round_trip():
    coder = DeltaXYWHBBoxCoder(
        target_means=(0.1, -0.1, 0.0, 0.05), target_stds=(0.1, 0.1, 0.2, 0.2)
    )
    proposals, gts = random_boxes(50, seed=1), random_boxes(50, seed=2)
    deltas = coder.encode(proposals, gts)
    torch.testing.assert_close(
        coder.decode(proposals, deltas), gts, atol=1e-3, rtol=1e-5
    )


def test_extreme_deltas_are_clamped():
    coder = DeltaXYWHBBoxCoder()
    box = torch.tensor([[10.0, 10.0, 20.0, 30.0]])  # w 10, h 20
    huge = coder.decode(box, torch.tensor([[0.0, 0.0, 100.0, 100.0]]))
    wh = huge[0, 2:] - huge[0, :2]
    np.testing.assert_allclose(
        wh.numpy(),
        [10 * math.exp(MAX_RATIO), 20 * math.exp(MAX_RATIO)],
        rtol=1e-5,
    )
    tiny = coder.decode(box, torch.tensor([[0.0, 0.0, -100.0, -100.0]]))
    wh = tiny[0, 2:] - tiny[0, :2]
    np.testing.assert_allclose(
        wh.numpy(), [10 * 16 / 1000, 20 * 16 / 1000], rtol=1e-4
    )
    # centres are not clamped by default
    shifted = coder.decode(box, torch.tensor([[3.0, 0.0, 0.0, 0.0]]))
    assert float((shifted[0, 0] + shifted[0, 2]) / 2) == pytest.approx(45.0)


def test_decoded_boxes_are_clipped_to_the_image():
    coder = DeltaXYWHBBoxCoder()
    box = torch.tensor([[0.0, 0.0, 50.0, 40.0]])
    delta = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    clipped = coder.decode(box, delta, max_shape=(30, 45, 3))
    np.testing.assert_allclose(clipped.numpy(), [[0, 0, 45, 30]])
    unclipped = DeltaXYWHBBoxCoder(clip_border=False).decode(
        box, delta, max_shape=(30, 45)
    )
    assert unclipped[0, 0] < 0 and unclipped[0, 2] > 45


def test_ctr_clamp_bounds_the_centre_shift_and_growth_only():
    """YOLOF's decoding: the centre moves at most ctr_clamp pixels, dw/dh
    are clamped from above only (a box may shrink below wh_ratio_clip)."""
    box = torch.tensor([[0.0, 0.0, 100.0, 50.0]])  # centre (50, 25)
    delta = torch.tensor([[0.5, -0.9, -5.0, 5.0]])  # shifts 50 px, -45 px
    clamped = DeltaXYWHBBoxCoder(add_ctr_clamp=True, ctr_clamp=4).decode(
        box, delta, wh_ratio_clip=0.1
    )
    w, h = 100 * np.exp(-5.0), 50 * np.exp(np.log(10.0))  # dh 5 -> log(10)
    expected = [54 - w / 2, 21 - h / 2, 54 + w / 2, 21 + h / 2]
    np.testing.assert_allclose(clamped[0].numpy(), expected, rtol=1e-5)
    plain = DeltaXYWHBBoxCoder().decode(box, delta, wh_ratio_clip=0.1)
    w, h = 100 * 0.1, 50 * 10.0  # both clamped, centre moved freely
    expected = [100 - w / 2, -20 - h / 2, 100 + w / 2, -20 + h / 2]
    np.testing.assert_allclose(plain[0].numpy(), expected, rtol=1e-5)


def test_batched_decode_equals_per_image():
    coder = DeltaXYWHBBoxCoder(target_stds=(0.1, 0.1, 0.2, 0.2))
    anchors = torch.stack([random_boxes(6, seed=3), random_boxes(6, seed=4)])
    gen = torch.Generator().manual_seed(5)
    deltas = torch.randn(2, 6, 4, generator=gen)
    shapes = [(60, 70, 3), (80, 50, 3)]
    batched = coder.decode(anchors, deltas, max_shape=shapes)
    assert batched.shape == (2, 6, 4)
    for i in range(2):
        torch.testing.assert_close(
            batched[i],
            coder.decode(anchors[i], deltas[i], max_shape=shapes[i]),
        )
    # one shape for the whole batch
    same = coder.decode(anchors, deltas, max_shape=(60, 70))
    torch.testing.assert_close(
        same[1], coder.decode(anchors[1], deltas[1], max_shape=(60, 70))
    )


def test_class_specific_deltas():
    coder = DeltaXYWHBBoxCoder(target_stds=(0.1, 0.1, 0.2, 0.2))
    rois = random_boxes(5, seed=6)
    deltas = torch.randn(5, 12, generator=torch.Generator().manual_seed(7))
    out = coder.decode(rois, deltas, max_shape=(100, 120))
    assert out.shape == (5, 12)
    for c in range(3):
        torch.testing.assert_close(
            out[:, 4 * c : 4 * c + 4],
            coder.decode(
                rois, deltas[:, 4 * c : 4 * c + 4], max_shape=(100, 120)
            ),
        )


def test_empty_and_bad_input():
    coder = DeltaXYWHBBoxCoder()
    assert coder.decode(torch.zeros(0, 4), torch.zeros(0, 4)).shape == (0, 4)
    assert coder.encode(torch.zeros(0, 4), torch.zeros(0, 4)).shape == (0, 4)
    with pytest.raises(ValueError):
        coder.decode(torch.zeros(3, 4), torch.zeros(2, 4))
    with pytest.raises(ValueError):
        coder.encode(torch.zeros(3, 4), torch.zeros(2, 4))
    with pytest.raises(ValueError):
        DeltaXYWHBBoxCoder(target_stds=(1.0, 1.0))


def test_functions_and_builders():
    proposals, gts = random_boxes(8, seed=8), random_boxes(8, seed=9)
    deltas = bbox2delta(
        proposals, gts, (0.0, 0.0, 0.0, 0.0), (1.0, 1.0, 1.0, 1.0)
    )
    torch.testing.assert_close(
        delta2bbox(proposals, deltas), gts, atol=1e-3, rtol=1e-5
    )
    coder = build_bbox_coder(
        dict(type='DeltaXYWHBBoxCoder', target_stds=[0.1, 0.1, 0.2, 0.2])
    )
    assert isinstance(coder, DeltaXYWHBBoxCoder)
    assert coder.stds == [0.1, 0.1, 0.2, 0.2]
    pseudo = build_bbox_coder(dict(type='PseudoBBoxCoder'))
    assert isinstance(pseudo, PseudoBBoxCoder)
    assert pseudo.encode(proposals, gts) is gts
    assert pseudo.decode(proposals, gts) is gts
