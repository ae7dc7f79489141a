"""BitmapMasks and PolygonMasks agree on the same shapes; mask targets and
RLE encoding."""

import numpy as np
import pycocotools.mask as mask_utils
import pytest
import torch

from mmdet.core.mask import (
    BitmapMasks,
    PolygonMasks,
    encode_mask_results,
    mask2bbox,
    mask_target,
    split_combined_polys,
)

H, W = 24, 32
# two rectangles and a right triangle, integer pixel-edge coordinates
RECTS = [(4, 2, 12, 10), (14, 8, 30, 20)]
TRIANGLE = [2, 12, 12, 22, 2, 22]


def polygon_masks():
    polys = [
        [np.array([x1, y1, x2, y1, x2, y2, x1, y2], float)]
        for x1, y1, x2, y2 in RECTS
    ]
    polys.append([np.array(TRIANGLE, float)])
    return PolygonMasks(polys, H, W)


def bitmap_masks():
    return BitmapMasks(polygon_masks().to_ndarray(), H, W)


def rect_maps(rects, h, w):
    maps = np.zeros((len(rects), h, w), np.uint8)
    for i, (x1, y1, x2, y2) in enumerate(rects):
        maps[i, y1:y2, x1:x2] = 1
    return maps


def iou(a, b):
    a, b = a.astype(bool), b.astype(bool)
    return (a & b).sum() / max((a | b).sum(), 1)


def test_polygons_rasterize_to_the_rectangles():
    maps = polygon_masks().to_ndarray()
    assert maps.shape == (3, H, W) and maps.dtype == np.uint8
    np.testing.assert_array_equal(maps[:2], rect_maps(RECTS, H, W))
    assert maps[2].sum() > 0


def test_areas_agree():
    np.testing.assert_array_equal(bitmap_masks().areas[:2], [64, 192])
    np.testing.assert_allclose(polygon_masks().areas[:2], [64, 192])
    # the triangle: 50 by the shoelace formula, rasterized close to it
    assert polygon_masks().areas[2] == pytest.approx(50)
    assert abs(int(bitmap_masks().areas[2]) - 50) <= 6


@pytest.mark.parametrize('direction', ['horizontal', 'vertical', 'diagonal'])
def test_flip_agrees_exactly(direction):
    poly = polygon_masks().flip(direction).to_ndarray()
    bit = bitmap_masks().flip(direction).to_ndarray()
    axes = {'horizontal': (2,), 'vertical': (1,), 'diagonal': (1, 2)}[
        direction
    ]
    np.testing.assert_array_equal(bit, np.flip(bitmap_masks().masks, axes))
    np.testing.assert_array_equal(poly[:2], bit[:2])
    assert iou(poly[2], bit[2]) > 0.8


def test_rescale_and_resize_agree():
    for op, arg, shape in (
        ('rescale', 2.0, (48, 64)),
        ('resize', (48, 64), (48, 64)),
    ):
        poly = getattr(polygon_masks(), op)(arg)
        bit = getattr(bitmap_masks(), op)(arg)
        assert (poly.height, poly.width) == (bit.height, bit.width) == shape
        np.testing.assert_array_equal(
            poly.to_ndarray()[:2], bit.to_ndarray()[:2]
        )
        np.testing.assert_array_equal(
            bit.to_ndarray()[:2],
            rect_maps([tuple(2 * v for v in r) for r in RECTS], 48, 64),
        )
    # an uneven factor: the shapes and extents still agree
    poly = polygon_masks().resize((30, 45))
    bit = bitmap_masks().resize((30, 45))
    for p, b in zip(poly.to_ndarray(), bit.to_ndarray()):
        assert iou(p, b) > 0.8
    assert polygon_masks().rescale((64, 48)).height == 48  # fit (long, short)


def test_pad_crop_expand_agree():
    padded = (polygon_masks().pad((30, 40)), bitmap_masks().pad((30, 40)))
    for m in padded:
        assert m.to_ndarray().shape == (3, 30, 40)
    np.testing.assert_array_equal(
        padded[0].to_ndarray(), padded[1].to_ndarray()
    )

    box = np.array([0, 8, 20, 24])
    poly, bit = polygon_masks().crop(box), bitmap_masks().crop(box)
    assert (poly.height, poly.width) == (bit.height, bit.width) == (16, 20)
    expected = rect_maps([(4, 0, 12, 2), (14, 0, 20, 12)], 16, 20)
    np.testing.assert_array_equal(bit.to_ndarray()[:2], expected)
    np.testing.assert_array_equal(poly.to_ndarray()[:2], expected)
    assert iou(poly.to_ndarray()[2], bit.to_ndarray()[2]) > 0.7
    # a box partly outside the image is clipped first
    assert bitmap_masks().crop(np.array([-5, -5, 10, 10])).masks.shape == (
        3,
        10,
        10,
    )

    poly = polygon_masks().expand(40, 50, 5, 7)
    bit = bitmap_masks().expand(40, 50, 5, 7)
    np.testing.assert_array_equal(poly.to_ndarray(), bit.to_ndarray())
    assert (
        bit.to_ndarray()[:, 5 : 5 + H, 7 : 7 + W].sum()
        == bitmap_masks().masks.sum()
    )


def test_translate_rotate_shear_agree():
    poly = polygon_masks().translate((H, W), 5, 'horizontal')
    bit = bitmap_masks().translate((H, W), 5, 'horizontal')
    np.testing.assert_array_equal(poly.to_ndarray(), bit.to_ndarray())
    np.testing.assert_array_equal(
        bit.to_ndarray()[:2],
        rect_maps([(9, 2, 17, 10), (19, 8, 32, 20)], H, W),
    )
    for op, args in (
        ('rotate', ((H, W), 30)),
        ('shear', ((H, W), 0.3, 'horizontal')),
    ):
        p = getattr(polygon_masks(), op)(*args).to_ndarray()
        b = getattr(bitmap_masks(), op)(*args).to_ndarray()
        for pm, bm in zip(p[:2], b[:2]):
            assert iou(pm, bm) > 0.8, op


def test_to_tensor_get_bboxes_and_indexing():
    for masks in (polygon_masks(), bitmap_masks()):
        t = masks.to_tensor(torch.float32, 'cpu')
        assert t.shape == (3, H, W) and t.dtype == torch.float32
        boxes = masks.get_bboxes()
        np.testing.assert_array_equal(boxes[:2], RECTS)
        np.testing.assert_array_equal(boxes[2], [2, 12, 12, 22])
        assert len(masks[[0, 2]]) == 2 and len(masks[1]) == 1
        assert len(masks[np.array([True, False, True])]) == 2
    assert len(BitmapMasks([], H, W)) == 0
    assert BitmapMasks([], H, W).rescale(2.0).masks.shape == (0, 48, 64)
    assert PolygonMasks([], H, W).to_ndarray().shape == (0, H, W)
    with pytest.raises(ValueError):
        BitmapMasks(np.zeros((2, 5, 5)), H, W)
    with pytest.raises(TypeError):
        PolygonMasks([np.zeros(6)], H, W)


def test_mask2bbox_matches_get_bboxes():
    maps = torch.from_numpy(bitmap_masks().masks.astype(bool))
    maps = torch.cat([maps, torch.zeros(1, H, W, dtype=torch.bool)])
    boxes = mask2bbox(maps)
    np.testing.assert_array_equal(boxes[:2].numpy(), RECTS)
    assert boxes[3].tolist() == [0, 0, 0, 0]


def test_crop_and_resize_agree_and_match_hand_computed_target():
    boxes = np.array([[4, 2, 12, 10], [10, 4, 30, 22]], np.float32)
    inds = np.array([0, 1])
    bit = bitmap_masks().crop_and_resize(boxes, (28, 28), inds).to_ndarray()
    poly = polygon_masks().crop_and_resize(boxes, (28, 28), inds).to_ndarray()
    assert bit.shape == poly.shape == (2, 28, 28)
    # the box is exactly the mask: all ones (bilinear corners aside)
    assert poly[0].all() and bit[0][1:-1, 1:-1].all()
    assert bit[0].sum() >= 28 * 28 - 4
    assert iou(bit[1], poly[1]) > 0.9


def test_mask_target_for_a_square():
    """A 16x16 square at (8, 8) in a 32x32 image, proposal = whole image:
    RoIAlign bins (i + 0.5) * 32/28 - 0.5 (2 samples each) reach the
    square from bin 7 to bin 20, so the target is ones on [7:21, 7:21]."""
    square = np.zeros((1, 32, 32), np.uint8)
    square[0, 8:24, 8:24] = 1
    expected = np.zeros((28, 28), np.float32)
    expected[7:21, 7:21] = 1
    proposals = torch.tensor([[0.0, 0.0, 32.0, 32.0], [8.0, 8.0, 24.0, 24.0]])
    for gt in (
        BitmapMasks(square, 32, 32),
        PolygonMasks([[np.array([8, 8, 24, 8, 24, 24, 8, 24.0])]], 32, 32),
    ):
        targets = mask_target(
            [proposals], [torch.tensor([0, 0])], [gt], dict(mask_size=28)
        )
        assert targets.shape == (2, 28, 28) and targets.dtype == torch.float32
        if isinstance(gt, BitmapMasks):
            np.testing.assert_array_equal(targets[0].numpy(), expected)
        else:  # polygons scaled to 28 px: edges at 7 and 21 exactly
            np.testing.assert_array_equal(targets[0].numpy(), expected)
        assert targets[1].all()
    # proposals are clipped to the image before cropping
    clipped = mask_target(
        [torch.tensor([[-32.0, -32.0, 64.0, 64.0]])],
        [torch.tensor([0])],
        [BitmapMasks(square, 32, 32)],
        dict(mask_size=28),
    )
    np.testing.assert_array_equal(clipped[0].numpy(), expected)
    empty = mask_target(
        [torch.zeros(0, 4)],
        [torch.zeros(0).long()],
        [BitmapMasks(square, 32, 32)],
        dict(mask_size=28),
    )
    assert empty.shape == (0, 28, 28)


def test_soft_mask_target_is_not_binarized():
    square = np.zeros((1, 32, 32), np.uint8)
    square[0, 8:24, 8:24] = 1
    soft = mask_target(
        [torch.tensor([[0.0, 0.0, 32.0, 32.0]])],
        [torch.tensor([0])],
        [BitmapMasks(square, 32, 32)],
        dict(mask_size=28, soft_mask_target=True),
    )
    values = set(np.round(soft.numpy().ravel(), 3).tolist())
    assert len(values) > 2 and min(values) == 0 and max(values) == 1


def test_encode_mask_results_round_trip():
    rng = np.random.default_rng(0)
    masks = [
        [rng.random((H, W)) > 0.5 for _ in range(2)],
        [],
        [rng.random((H, W)) > 0.5],
    ]
    encoded = encode_mask_results(masks)
    assert [len(c) for c in encoded] == [2, 0, 1]
    for cls_masks, cls_rles in zip(masks, encoded):
        for mask, rle in zip(cls_masks, cls_rles):
            assert rle['size'] == [H, W]
            np.testing.assert_array_equal(mask_utils.decode(rle), mask)
    scores = [[0.9, 0.8], [], [0.1]]
    enc, passed = encode_mask_results((masks, scores))
    assert passed is scores and len(enc) == 3


def test_split_combined_polys():
    polys = [np.arange(18, dtype=float)]
    out = split_combined_polys(polys, [[6, 8, 4]], [[2, 1]])
    assert len(out[0]) == 2
    assert [len(p) for p in out[0][0]] == [6, 8]
    np.testing.assert_array_equal(out[0][1][0], np.arange(14, 18))
