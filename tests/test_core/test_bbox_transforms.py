"""Box transforms: RoI format, results, flips, mappings, conversions."""

import numpy as np
import pytest
import torch

from mmdet.core import (
    bbox2distance,
    bbox2result,
    bbox2roi,
    bbox_cxcywh_to_xyxy,
    bbox_flip,
    bbox_mapping,
    bbox_mapping_back,
    bbox_rescale,
    bbox_xyxy_to_cxcywh,
    distance2bbox,
    find_inside_bboxes,
    roi2bbox,
)


def test_bbox2roi_roi2bbox_round_trip():
    boxes = [torch.rand(3, 4) * 10, torch.rand(2, 4) * 10]
    rois = bbox2roi(boxes)
    assert rois.shape == (5, 5)
    assert rois[:, 0].tolist() == [0, 0, 0, 1, 1]
    back = roi2bbox(rois)
    assert len(back) == 2
    for a, b in zip(back, boxes):
        torch.testing.assert_close(a, b)
    # scores are dropped; an image without boxes gives no rows
    scored = [torch.rand(2, 5), torch.zeros(0, 5), torch.rand(1, 5)]
    rois = bbox2roi(scored)
    assert rois.shape == (3, 5)
    assert rois[:, 0].tolist() == [0, 0, 2]
    torch.testing.assert_close(rois[2, 1:], scored[2][0, :4])
    assert bbox2roi([torch.zeros(0, 4)]).shape == (0, 5)


def test_bbox2result():
    dets = torch.tensor(
        [
            [0.0, 0.0, 1.0, 1.0, 0.9],
            [1.0, 1.0, 2.0, 2.0, 0.8],
            [2.0, 2.0, 3.0, 3.0, 0.7],
        ]
    )
    labels = torch.tensor([2, 0, 2])
    result = bbox2result(dets, labels, 3)
    assert len(result) == 3
    assert all(r.dtype == np.float32 and r.shape[1] == 5 for r in result)
    np.testing.assert_allclose(result[0], dets[[1]].numpy())
    assert result[1].shape == (0, 5)
    np.testing.assert_allclose(result[2], dets[[0, 2]].numpy())
    empty = bbox2result(torch.zeros(0, 5), torch.zeros(0), 4)
    assert len(empty) == 4 and all(r.shape == (0, 5) for r in empty)
    from_numpy = bbox2result(dets.double().numpy(), labels.numpy(), 3)
    assert from_numpy[2].dtype == np.float32


def test_bbox_flip_directions():
    boxes = torch.tensor([[10.0, 20.0, 30.0, 60.0]])
    shape = (100, 200, 3)  # h, w
    np.testing.assert_allclose(
        bbox_flip(boxes, shape, 'horizontal').numpy(), [[170, 20, 190, 60]]
    )
    np.testing.assert_allclose(
        bbox_flip(boxes, shape, 'vertical').numpy(), [[10, 40, 30, 80]]
    )
    np.testing.assert_allclose(
        bbox_flip(boxes, shape, 'diagonal').numpy(), [[170, 40, 190, 80]]
    )
    multi = torch.cat([boxes, boxes + 1], dim=1)  # (1, 8): two boxes
    flipped = bbox_flip(multi, shape, 'horizontal')
    np.testing.assert_allclose(flipped[:, 4:].numpy(), [[169, 21, 189, 61]])
    for direction in ('horizontal', 'vertical', 'diagonal'):
        twice = bbox_flip(bbox_flip(boxes, shape, direction), shape, direction)
        torch.testing.assert_close(twice, boxes)
    with pytest.raises(ValueError, match='direction'):
        bbox_flip(boxes, shape, 'sideways')
    with pytest.raises(ValueError, match='4'):
        bbox_flip(boxes[:, :3], shape)


@pytest.mark.parametrize('flip', [False, True])
@pytest.mark.parametrize('direction', ['horizontal', 'vertical', 'diagonal'])
def test_bbox_mapping_back_inverts_bbox_mapping(flip, direction):
    boxes = torch.tensor([[10.0, 20.0, 30.0, 60.0], [0.0, 0.0, 5.0, 5.0]])
    scale = np.array([1.5, 2.0, 1.5, 2.0], dtype=np.float32)
    resized_shape = (200, 300, 3)
    mapped = bbox_mapping(boxes, resized_shape, scale, flip, direction)
    if not flip:
        np.testing.assert_allclose(mapped[0].numpy(), [15, 40, 45, 120])
    back = bbox_mapping_back(mapped, resized_shape, scale, flip, direction)
    torch.testing.assert_close(back, boxes)


def test_bbox_mapping_back_class_specific_boxes():
    boxes = torch.tensor([[2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 14.0, 16.0]])
    back = bbox_mapping_back(boxes, (50, 50), 2.0, False)
    assert back.shape == (1, 8)
    np.testing.assert_allclose(back.numpy(), boxes.numpy() / 2)


def test_cxcywh_conversions():
    xyxy = torch.tensor([[0.0, 10.0, 20.0, 40.0]])
    cxcywh = bbox_xyxy_to_cxcywh(xyxy)
    np.testing.assert_allclose(cxcywh.numpy(), [[10, 25, 20, 30]])
    torch.testing.assert_close(bbox_cxcywh_to_xyxy(cxcywh), xyxy)
    batch = torch.rand(2, 3, 4)
    torch.testing.assert_close(
        bbox_xyxy_to_cxcywh(bbox_cxcywh_to_xyxy(batch)), batch
    )


def test_bbox_rescale():
    boxes = torch.tensor([[10.0, 10.0, 20.0, 30.0]])
    np.testing.assert_allclose(
        bbox_rescale(boxes, 2.0).numpy(), [[5, 0, 25, 40]]
    )
    rois = torch.tensor([[3.0, 10.0, 10.0, 20.0, 30.0]])
    np.testing.assert_allclose(
        bbox_rescale(rois, 0.5).numpy(), [[3, 12.5, 15, 17.5, 25]]
    )


def test_distance_conversions():
    points = torch.tensor([[10.0, 10.0], [50.0, 40.0]])
    boxes = torch.tensor([[0.0, 5.0, 20.0, 30.0], [45.0, 30.0, 55.0, 60.0]])
    dist = bbox2distance(points, boxes)
    np.testing.assert_allclose(dist.numpy(), [[10, 5, 10, 20], [5, 10, 5, 20]])
    torch.testing.assert_close(distance2bbox(points, dist), boxes)
    clipped = distance2bbox(points, dist, max_shape=(50, 52))
    np.testing.assert_allclose(clipped[1].numpy(), [45, 30, 52, 50])
    assert bbox2distance(points, boxes, max_dis=8).max() == pytest.approx(7.9)


def test_find_inside_bboxes():
    boxes = torch.tensor(
        [
            [-10.0, -10.0, -1.0, -1.0],
            [-5.0, -5.0, 5.0, 5.0],
            [90.0, 10.0, 120.0, 20.0],
            [10.0, 60.0, 20.0, 70.0],
        ]
    )
    assert find_inside_bboxes(boxes, 50, 100).tolist() == [
        False,
        True,
        True,
        False,
    ]
