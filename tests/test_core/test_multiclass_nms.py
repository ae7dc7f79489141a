"""multiclass_nms, batched_nms, nms and the test-time-augmentation
mergers."""

import json
import os.path as osp

import numpy as np
import pytest
import torch

from mmdet.core import (
    batched_nms,
    merge_aug_bboxes,
    merge_aug_masks,
    merge_aug_proposals,
    merge_aug_scores,
    multiclass_nms,
    nms,
)

REF = osp.join(
    osp.dirname(__file__), '..', 'data', 'reference', 'numerics.json'
)
NMS = dict(type='nms', iou_threshold=0.5)

# b0 and b1 overlap with IoU 81 / 119 = 0.68; b2 is far away
BOXES = torch.tensor(
    [[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 11.0, 11.0], [50.0, 50.0, 60.0, 60.0]]
)
# two classes and the background last
SCORES = torch.tensor([[0.9, 0.0, 0.1], [0.8, 0.7, 0.1], [0.03, 0.6, 0.4]])


def test_reference_case():
    with open(REF) as f:
        ref = json.load(f)['multiclass_nms']
    dets, labels = multiclass_nms(
        torch.tensor(ref['bboxes']),
        torch.tensor(ref['scores']),
        0.05,
        NMS,
        max_num=10,
    )
    np.testing.assert_allclose(dets.numpy(), ref['dets'], atol=1e-4)
    assert labels.tolist() == ref['labels']


def test_hand_case_keeps_the_right_boxes():
    dets, labels, inds = multiclass_nms(
        BOXES, SCORES, 0.05, NMS, return_inds=True
    )
    # class 0: b1 is suppressed by b0, b2 is below the score threshold;
    # class 1: b1 and b2 (b0 has score 0)
    np.testing.assert_allclose(
        dets.numpy(),
        [[0, 0, 10, 10, 0.9], [1, 1, 11, 11, 0.7], [50, 50, 60, 60, 0.6]],
    )
    assert labels.tolist() == [0, 1, 1]
    # indices into the flattened (box, class) pairs: box * 2 + class
    assert inds.tolist() == [0, 3, 5]


def test_same_box_in_two_classes_is_kept_twice():
    scores = torch.tensor([[0.9, 0.8, 0.0]])
    dets, labels = multiclass_nms(BOXES[:1], scores, 0.05, NMS)
    assert labels.tolist() == [0, 1]
    np.testing.assert_allclose(dets[:, 4].numpy(), [0.9, 0.8])
    # class agnostic NMS merges them
    dets, labels = multiclass_nms(
        BOXES[:1], scores, 0.05, dict(NMS, class_agnostic=True)
    )
    assert labels.tolist() == [0]


def test_score_threshold_and_max_num():
    dets, labels = multiclass_nms(BOXES, SCORES, 0.65, NMS)
    assert labels.tolist() == [0, 1]
    np.testing.assert_allclose(dets[:, 4].numpy(), [0.9, 0.7])
    dets, labels = multiclass_nms(BOXES, SCORES, 0.05, NMS, max_num=2)
    assert dets.shape == (2, 5) and labels.tolist() == [0, 1]
    # a looser IoU threshold keeps both overlapping class-0 boxes
    dets, labels = multiclass_nms(
        BOXES, SCORES, 0.05, dict(type='nms', iou_threshold=0.7)
    )
    assert labels.tolist() == [0, 0, 1, 1]


def test_score_factors_multiply_after_the_threshold():
    factors = torch.tensor([0.1, 1.0, 0.5])
    dets, labels, inds = multiclass_nms(
        BOXES, SCORES, 0.05, NMS, score_factors=factors, return_inds=True
    )
    # class 0: b0 now scores 0.09 and is suppressed by b1 (0.8); class 1:
    # b1 0.7, b2 0.3; the threshold applies to the raw scores, so b0 class
    # 0 (0.9 -> 0.09) takes part, b2 class 0 (0.03) does not
    np.testing.assert_allclose(dets[:, 4].numpy(), [0.8, 0.7, 0.3], rtol=1e-6)
    assert labels.tolist() == [0, 1, 1]
    assert inds.tolist() == [2, 3, 5]
    factors = torch.tensor([0.01, 1.0, 1.0])
    scores = torch.tensor([[0.9, 0.0, 0.1], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    dets, _ = multiclass_nms(BOXES, scores, 0.05, NMS, score_factors=factors)
    np.testing.assert_allclose(dets[:, 4].numpy(), [0.009], rtol=1e-5)


def test_class_specific_boxes():
    # per class a different box: class 1's b0 box is far from its b1 box
    multi = torch.cat(
        [BOXES, BOXES + torch.tensor([[100.0], [0.0], [0.0]])], dim=1
    )
    scores = torch.tensor([[0.9, 0.9, 0.0], [0.8, 0.8, 0.0], [0.0, 0.0, 1.0]])
    dets, labels = multiclass_nms(multi, scores, 0.05, NMS)
    assert labels.tolist() == [0, 1, 1]
    np.testing.assert_allclose(
        dets[:, :4].numpy(),
        [[0, 0, 10, 10], [100, 100, 110, 110], [1, 1, 11, 11]],
    )
    with pytest.raises(ValueError, match='multi_bboxes'):
        multiclass_nms(torch.zeros(3, 12), SCORES, 0.05, NMS)


def test_empty_inputs():
    dets, labels, inds = multiclass_nms(
        torch.zeros(0, 4), torch.zeros(0, 3), 0.05, NMS, return_inds=True
    )
    assert dets.shape == (0, 5) and labels.shape == (0,) and inds.shape == (0,)
    dets, labels = multiclass_nms(BOXES, SCORES, 0.99, NMS)
    assert dets.shape == (0, 5) and labels.shape == (0,)


def test_batched_nms_interface():
    boxes = torch.cat([BOXES, BOXES[:1] + 0.5])
    scores = torch.tensor([0.5, 0.9, 0.3, 0.6])
    idxs = torch.tensor([0, 0, 0, 1])
    dets, keep = batched_nms(boxes, scores, idxs, NMS)
    # b0 is suppressed by b1; box 3 is in another group
    assert keep.tolist() == [1, 3, 2]
    torch.testing.assert_close(dets[:, :4], boxes[keep])
    torch.testing.assert_close(dets[:, 4], scores[keep])
    _, keep = batched_nms(boxes, scores, idxs, NMS, class_agnostic=True)
    assert keep.tolist() == [1, 2]
    _, keep = batched_nms(
        boxes,
        scores,
        idxs,
        dict(type='nms', iou_thr=0.5, max_num=2, split_thr=10000),
    )
    assert keep.tolist() == [1, 3]
    _, keep = batched_nms(boxes, scores, idxs, dict(NMS, score_threshold=0.4))
    assert keep.tolist() == [1, 3]
    dets, keep = batched_nms(boxes, scores, idxs, None)
    assert keep.tolist() == [1, 3, 0, 2]
    dets, keep = batched_nms(
        torch.zeros(0, 4),
        torch.zeros(0),
        torch.zeros(0, dtype=torch.long),
        NMS,
    )
    assert dets.shape == (0, 5) and keep.shape == (0,)
    with pytest.raises(ValueError, match='nms_match'):
        batched_nms(
            boxes, scores, idxs, dict(type='nms_match', iou_threshold=0.5)
        )
    with pytest.raises(KeyError, match='iou_threshold'):
        batched_nms(boxes, scores, idxs, dict(type='nms'))
    with pytest.raises(KeyError, match='sigma'):
        batched_nms(boxes, scores, idxs, dict(NMS, sigma=0.5))


def test_single_class_nms():
    boxes = torch.tensor(
        [
            [0.0, 0.0, 10.0, 10.0],
            [0.0, 0.0, 10.0, 9.0],
            [20.0, 20.0, 30.0, 30.0],
        ]
    )
    scores = torch.tensor([0.5, 0.9, 0.7])
    dets, inds = nms(boxes, scores, 0.5)
    assert inds.tolist() == [1, 2]
    np.testing.assert_allclose(dets[:, 4].numpy(), [0.9, 0.7])
    dets_np, inds_np = nms(boxes.numpy(), scores.numpy(), 0.5, max_num=1)
    assert isinstance(dets_np, np.ndarray) and inds_np.tolist() == [1]
    _, inds = nms(boxes, scores, 0.5, score_threshold=0.8)
    assert inds.tolist() == [1]
    # two 1-pixel-apart boxes: with widths x2 - x1 they do not overlap,
    # with the legacy +1 they do
    small = torch.tensor([[0.0, 0.0, 1.0, 1.0], [1.0, 0.0, 2.0, 1.0]])
    assert len(nms(small, torch.tensor([0.9, 0.8]), 0.3)[1]) == 2
    assert len(nms(small, torch.tensor([0.9, 0.8]), 0.3, offset=1)[1]) == 1


def test_merge_aug_bboxes_and_scores():
    boxes = torch.tensor([[10.0, 20.0, 30.0, 40.0]])
    metas = [
        [dict(img_shape=(100, 100, 3), scale_factor=1.0, flip=False)],
        [
            dict(
                img_shape=(200, 200, 3),
                scale_factor=2.0,
                flip=True,
                flip_direction='horizontal',
            )
        ],
    ]
    second = bbox_flip_by_hand(boxes * 2, 200)
    merged, scores = merge_aug_bboxes(
        [boxes, second], [torch.tensor([[0.2]]), torch.tensor([[0.4]])], metas
    )
    torch.testing.assert_close(merged, boxes)
    torch.testing.assert_close(scores, torch.tensor([[0.3]]))
    np.testing.assert_allclose(
        merge_aug_scores([np.array([1.0]), np.array([3.0])]), [2.0]
    )


def bbox_flip_by_hand(boxes, width):
    return torch.stack(
        [width - boxes[:, 2], boxes[:, 1], width - boxes[:, 0], boxes[:, 3]],
        dim=1,
    )


def test_merge_aug_proposals():
    metas = [
        dict(img_shape=(100, 100, 3), scale_factor=1.0, flip=False),
        dict(
            img_shape=(100, 100, 3),
            scale_factor=1.0,
            flip=True,
            flip_direction='horizontal',
        ),
    ]
    first = torch.tensor(
        [[0.0, 0.0, 10.0, 10.0, 0.9], [50.0, 50.0, 60.0, 60.0, 0.5]]
    )
    # the same boxes, flipped, with other scores
    second = torch.cat(
        [bbox_flip_by_hand(first[:, :4], 100), torch.tensor([[0.8], [0.7]])],
        dim=1,
    )
    cfg = dict(nms=dict(type='nms', iou_threshold=0.7), max_per_img=10)
    merged = merge_aug_proposals([first, second], metas, cfg)
    np.testing.assert_allclose(
        merged.numpy(), [[0, 0, 10, 10, 0.9], [50, 50, 60, 60, 0.7]]
    )
    cfg = dict(nms=dict(type='nms', iou_threshold=0.7), max_per_img=1)
    assert merge_aug_proposals([first, second], metas, cfg).shape == (1, 5)


def test_merge_aug_masks():
    mask = np.arange(8, dtype=np.float32).reshape(1, 1, 2, 4)
    metas = [
        [dict(flip=False)],
        [dict(flip=True, flip_direction='horizontal')],
    ]
    merged = merge_aug_masks([mask, mask[..., ::-1]], metas)
    np.testing.assert_allclose(merged, mask)
    weighted = merge_aug_masks(
        [mask, np.zeros_like(mask)],
        [[dict(flip=False)], [dict(flip=False)]],
        weights=[3, 1],
    )
    np.testing.assert_allclose(weighted, mask * 0.75)
    tensor = torch.from_numpy(mask)
    merged = merge_aug_masks(
        [tensor, tensor.flip(-2)],
        [[dict(flip=False)], [dict(flip=True, flip_direction='vertical')]],
    )
    torch.testing.assert_close(merged, tensor)


@pytest.mark.parametrize('split_thr', [10000, 1])
def test_batched_nms_has_mmcvs_shifted_coordinates(split_thr):
    """mmcv shifts each group's boxes by ``group * (max coordinate + 1)``
    and computes the IoUs on the shifted float32 numbers, below and above
    ``split_thr`` alike; with ~1000 boxes torchvision would suppress per
    group on the exact coordinates instead."""
    # two unit boxes of group 1 with IoU 0.7 / 1.3 = 0.538; shifted by
    # 1e6 + 1 their x is rounded to 1/16 px: IoU 0.6875 / 1.3125 = 0.524
    pair = torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.3, 0.0, 1.3, 1.0]])
    # 1200 far-apart boxes of group 0, one reaching x = 1e6
    xs = torch.arange(1200.0) * 10
    others = torch.stack([xs, xs, xs + 1, xs + 1], dim=1)
    others[-1, 2] = 1e6
    boxes = torch.cat([pair, others])
    scores = torch.cat([torch.tensor([0.9, 0.8]), torch.rand(1200) * 0.5])
    idxs = torch.cat([torch.ones(2), torch.zeros(1200)]).long()
    cfg = dict(type='nms', iou_threshold=0.53, split_thr=split_thr)
    dets, keep = batched_nms(boxes, scores, idxs, cfg)
    assert {0, 1} <= set(keep.tolist())  # exact IoU 0.538 would drop 1
    assert len(keep) == 1202
    assert torch.equal(dets[:, 4], scores[keep])
    assert (dets[1:, 4] <= dets[:-1, 4]).all()
