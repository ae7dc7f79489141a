"""AnchorGenerator and anchor helpers against MMDetection 2.28's numbers
and hand-computed layouts."""

import json
import math
import os.path as osp

import numpy as np
import pytest
import torch

from mmdet.core import (
    ANCHOR_GENERATORS,
    PRIOR_GENERATORS,
    AnchorGenerator,
    anchor_inside_flags,
    build_anchor_generator,
    build_prior_generator,
    images_to_levels,
)

REF = osp.join(
    osp.dirname(__file__), '..', 'data', 'reference', 'numerics.json'
)


@pytest.fixture(scope='module')
def ref():
    with open(REF) as f:
        return json.load(f)['anchors']


def rpn_generator():
    return AnchorGenerator(
        strides=[4, 8, 16, 32, 64], ratios=[0.5, 1.0, 2.0], scales=[8]
    )


def test_base_anchors_match_reference(ref):
    gen = rpn_generator()
    assert gen.num_levels == 5
    assert gen.num_base_priors == [3] * 5
    assert gen.num_base_anchors == [3] * 5
    for mine, theirs in zip(gen.base_anchors, ref['base_anchors']):
        np.testing.assert_allclose(mine.numpy(), theirs, atol=1e-4)


def test_grid_priors_match_reference(ref):
    gen = rpn_generator()
    sizes = [tuple(s) for s in ref['featmap_sizes']]
    priors = gen.grid_priors(sizes, device='cpu')
    assert len(priors) == 5
    for mine, theirs, (h, w) in zip(priors, ref['grid_anchors'], sizes):
        assert mine.shape == (h * w * 3, 4)
        assert mine.dtype == torch.float32
        np.testing.assert_allclose(mine.numpy(), theirs, atol=1e-4)


def test_base_anchor_formula_by_hand():
    # stride 16, ratio 4 (h/w), scale 2: w = 16 * 2 / 2 = 16, h = 64
    gen = AnchorGenerator(strides=[16], ratios=[4.0], scales=[2.0])
    np.testing.assert_allclose(
        gen.base_anchors[0].numpy(), [[-8, -32, 8, 32]], atol=1e-5
    )
    # a centre offset of 0.5 moves the centre to (8, 8)
    gen = AnchorGenerator(
        strides=[16], ratios=[1.0], scales=[1.0], center_offset=0.5
    )
    np.testing.assert_allclose(gen.base_anchors[0].numpy(), [[0, 0, 16, 16]])
    # explicit centres and base sizes
    gen = AnchorGenerator(
        strides=[16],
        ratios=[1.0],
        scales=[1.0],
        base_sizes=[10],
        centers=[(3, 4)],
    )
    np.testing.assert_allclose(gen.base_anchors[0].numpy(), [[-2, -1, 8, 9]])


def _sizes(anchors):
    wh = anchors[:, 2:] - anchors[:, :2]
    return [tuple(round(float(v), 3) for v in row) for row in wh]


def test_scale_major_order():
    # ratio 1 (w=h) and ratio 4 (h = 2 * base, w = base / 2) at scales 1, 2
    kwargs = dict(strides=[8], ratios=[1.0, 4.0], scales=[1.0, 2.0])
    ratio_major = AnchorGenerator(scale_major=True, **kwargs)
    assert _sizes(ratio_major.base_anchors[0]) == [
        (8, 8),
        (16, 16),
        (4, 16),
        (8, 32),
    ]
    scale_major_false = AnchorGenerator(scale_major=False, **kwargs)
    assert _sizes(scale_major_false.base_anchors[0]) == [
        (8, 8),
        (4, 16),
        (16, 16),
        (8, 32),
    ]


def test_octave_scales_equal_explicit_scales():
    octave = AnchorGenerator(
        strides=[8, 16],
        ratios=[0.5, 1.0],
        octave_base_scale=4,
        scales_per_octave=3,
    )
    explicit = AnchorGenerator(
        strides=[8, 16],
        ratios=[0.5, 1.0],
        scales=[4 * 2 ** (i / 3) for i in range(3)],
    )
    assert octave.num_base_priors == [6, 6]
    for a, b in zip(octave.base_anchors, explicit.base_anchors):
        torch.testing.assert_close(a, b)


def test_invalid_arguments_raise():
    with pytest.raises(ValueError, match='scales'):
        AnchorGenerator(
            strides=[8],
            ratios=[1.0],
            scales=[1.0],
            octave_base_scale=4,
            scales_per_octave=3,
        )
    with pytest.raises(ValueError, match='scales'):
        AnchorGenerator(strides=[8], ratios=[1.0])
    with pytest.raises(ValueError, match='center_offset'):
        AnchorGenerator(
            strides=[8],
            ratios=[1.0],
            scales=[1.0],
            centers=[(0, 0)],
            center_offset=0.5,
        )
    with pytest.raises(ValueError, match='base_sizes'):
        AnchorGenerator(
            strides=[8, 16], ratios=[1.0], scales=[1.0], base_sizes=[8]
        )
    gen = rpn_generator()
    with pytest.raises(ValueError, match='feature map sizes'):
        gen.grid_priors([(2, 2)], device='cpu')


def test_grid_layout_position_major_with_rectangular_stride():
    # stride (w=4, h=10): positions advance x fastest
    gen = AnchorGenerator(
        strides=[(4, 10)], ratios=[1.0, 0.25], scales=[1.0], base_sizes=[4]
    )
    priors = gen.grid_priors([(2, 3)], device='cpu')[0]
    assert priors.shape == (2 * 3 * 2, 4)
    base = gen.base_anchors[0]
    for idx in range(12):
        position, a = divmod(idx, 2)
        y, x = divmod(position, 3)
        shift = torch.tensor([4.0 * x, 10.0 * y, 4.0 * x, 10.0 * y])
        torch.testing.assert_close(priors[idx], base[a] + shift)


def test_dtype_and_sparse_priors():
    gen = rpn_generator()
    sizes = [(5, 7), (3, 4), (2, 2), (1, 1), (1, 1)]
    priors = gen.grid_priors(sizes, dtype=torch.float64, device='cpu')
    assert priors[0].dtype == torch.float64
    full = gen.single_level_grid_priors((5, 7), 0, device='cpu')
    idx = torch.tensor([0, 1, 2, 3, 20, 55, 104])
    sparse = gen.sparse_priors(idx, (5, 7), 0, device='cpu')
    torch.testing.assert_close(sparse, full[idx])


def test_grid_anchors_is_a_deprecated_alias():
    gen = rpn_generator()
    sizes = [(3, 2), (2, 2), (1, 2), (1, 1), (1, 1)]
    with pytest.warns(UserWarning, match='grid_priors'):
        old = gen.grid_anchors(sizes, device='cpu')
    for a, b in zip(old, gen.grid_priors(sizes, device='cpu')):
        torch.testing.assert_close(a, b)


def test_valid_flags_with_padding():
    gen = AnchorGenerator(strides=[8, 16], ratios=[0.5, 1.0, 2.0], scales=[8])
    # the batch is padded to 32 x 48 (maps 4 x 6 and 2 x 3); this image
    # covers 20 x 30 of it: ceil(20/8)=3 rows, ceil(30/8)=4 cols at stride
    # 8; ceil(20/16)=2 rows, ceil(30/16)=2 cols at stride 16
    flags = gen.valid_flags([(4, 6), (2, 3)], (20, 30, 3), device='cpu')
    assert flags[0].dtype == torch.bool
    expected0 = torch.zeros(4, 6, 3, dtype=torch.bool)
    expected0[:3, :4] = True
    assert torch.equal(flags[0], expected0.view(-1))
    expected1 = torch.zeros(2, 3, 3, dtype=torch.bool)
    expected1[:2, :2] = True
    assert torch.equal(flags[1], expected1.view(-1))
    # an unpadded image is valid everywhere
    full = gen.valid_flags([(4, 6), (2, 3)], (32, 48), device='cpu')
    assert all(f.all() for f in full)


def test_anchor_inside_flags():
    anchors = torch.tensor(
        [
            [0.0, 0.0, 10.0, 10.0],
            [-5.0, 0.0, 10.0, 10.0],
            [0.0, 0.0, 30.0, 10.0],
            [0.0, 0.0, 10.0, 20.0],
            [1.0, 1.0, 5.0, 5.0],
        ]
    )
    valid = torch.tensor([True, True, True, True, False])
    inside = anchor_inside_flags(anchors, valid, (20, 30, 3))
    # x2 == img_w and y2 == img_h are outside (strict <)
    assert inside.tolist() == [True, False, False, False, False]
    inside = anchor_inside_flags(anchors, valid, (20, 30), allowed_border=5)
    assert inside.tolist() == [True, True, True, True, False]
    inside = anchor_inside_flags(anchors, valid, (20, 30), allowed_border=-1)
    assert inside.tolist() == valid.tolist()


def test_images_to_levels():
    img0 = torch.arange(6.0)
    img1 = torch.arange(6.0) + 10
    levels = images_to_levels([img0, img1], [4, 2])
    assert [lvl.shape for lvl in levels] == [(2, 4), (2, 2)]
    assert levels[0].tolist() == [[0, 1, 2, 3], [10, 11, 12, 13]]
    assert levels[1].tolist() == [[4, 5], [14, 15]]
    boxes = [torch.rand(5, 4), torch.rand(5, 4)]
    levels = images_to_levels(boxes, [1, 3, 1])
    assert [lvl.shape for lvl in levels] == [(2, 1, 4), (2, 3, 4), (2, 1, 4)]
    torch.testing.assert_close(levels[1][1], boxes[1][1:4])


def test_build_from_config():
    assert ANCHOR_GENERATORS is PRIOR_GENERATORS
    cfg = dict(
        type='AnchorGenerator',
        scales=[8],
        ratios=[0.5, 1.0, 2.0],
        strides=[4, 8, 16, 32, 64],
    )
    gen = build_prior_generator(cfg)
    assert isinstance(gen, AnchorGenerator)
    assert gen.num_base_priors == [3] * 5
    with pytest.warns(UserWarning, match='deprecated'):
        assert isinstance(build_anchor_generator(cfg), AnchorGenerator)
    with pytest.raises(KeyError, match='AnchorGenerator'):
        build_prior_generator(dict(type='AnchorGenerater', strides=[4]))
    assert 'strides' in repr(gen)


def test_largest_anchor_size():
    gen = rpn_generator()
    # stride 64, scale 8, ratio 0.5: w = 512 * sqrt(2)
    w = float(gen.base_anchors[4][0, 2] - gen.base_anchors[4][0, 0])
    assert math.isclose(w, 512 * math.sqrt(2), rel_tol=1e-6)
