"""PointRend: point sampling against written-out bilinear formulas, and the
whole test path (RPN, boxes, coarse masks, 5 subdivision steps) against
MMDetection 2.28.2 on the same seeded model and image
(``tests/data/reference/point_rend_mmdet228.json``)."""

import os.path as osp

import torch
from seeded_detector import assert_matches, load, run_simple_test

from mmdet.models.builder import build_head
from mmdet.models.utils.point_sample import (
    get_uncertain_point_coords_with_randomness,
    point_sample,
    rel_roi_point_to_rel_img_point,
)

REF = osp.join(
    osp.dirname(osp.dirname(__file__)),
    'data',
    'reference',
    'point_rend_mmdet228.json',
)


def _bilinear(img, x, y):
    """Zero-padded bilinear value at continuous pixel (x, y) (centres at
    integer + 0.5), float64."""
    h, w = img.shape
    x, y = x - 0.5, y - 0.5
    x0, y0 = (
        int(torch.floor(torch.tensor(x))),
        int(torch.floor(torch.tensor(y))),
    )
    total = 0.0
    for dx in (0, 1):
        for dy in (0, 1):
            xi, yi = x0 + dx, y0 + dy
            wgt = (1 - abs(x - xi)) * (1 - abs(y - yi))
            if 0 <= xi < w and 0 <= yi < h:
                total += wgt * float(img[yi, xi])
    return total


def test_point_sample_is_bilinear():
    torch.manual_seed(0)
    feat = torch.randn(1, 2, 5, 7)
    points = torch.rand(1, 9, 2) * 1.2 - 0.1  # some outside [0, 1]
    out = point_sample(feat, points)
    assert out.shape == (1, 2, 9)
    for c in range(2):
        for p in range(9):
            x, y = points[0, p].tolist()
            want = _bilinear(feat[0, c].double(), x * 7, y * 5)
            assert abs(out[0, c, p].item() - want) < 1e-5


def test_rel_roi_point_to_rel_img_point():
    rois = torch.tensor([[0.0, 8.0, 4.0, 24.0, 36.0]])
    rel = torch.tensor([[[0.0, 0.0], [0.5, 0.25], [1.0, 1.0]]])
    # a 16 x 32 (h, w) map at stride 2
    out = rel_roi_point_to_rel_img_point(rois, rel, (16, 32), 0.5)
    want = torch.tensor(
        [[[8 / 64, 4 / 32], [16 / 64, 12 / 32], [24 / 64, 36 / 32]]]
    )
    assert torch.allclose(out, want)


def test_uncertain_points_prefer_small_logits():
    torch.manual_seed(0)
    logits = torch.full((2, 3, 8, 8), 10.0)
    logits[:, 1, :, 4:] = 0.0  # class 1 uncertain on the right half
    points = get_uncertain_point_coords_with_randomness(
        logits, torch.tensor([1, 1]), 16, 3, 1.0
    )
    assert points.shape == (2, 16, 2)
    assert (points[..., 0] > 0.45).all()


def test_mask_point_head_test_points_are_cell_centres():
    head = build_head(dict(type='MaskPointHead', num_classes=2, in_channels=4))
    logits = torch.randn(1, 2, 4, 4)
    logits[0, 1, 2, 3] = 0.0
    idx, pts = head.get_roi_rel_points_test(
        logits, torch.tensor([1]), dict(subdivision_num_points=1)
    )
    assert idx.tolist() == [[11]]
    assert torch.allclose(pts, torch.tensor([[[0.875, 0.625]]]))


def test_point_rend_simple_test_matches_mmdetection():
    ref = load(REF)
    assert_matches(run_simple_test(ref), ref)
