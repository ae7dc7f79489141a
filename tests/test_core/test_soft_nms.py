"""Soft-NMS (``nms=dict(type='soft_nms', ...)``) against cases computed by
hand, hard NMS as its 'naive' limit, and through multiclass_nms."""

import numpy as np
import pytest
import torch
from torchvision.ops import nms as tv_nms

from mmdet.core import multiclass_nms, soft_nms

# A and E overlap by 81/119, A and B by 1/2, A and D by 1/2, B and E by
# 36/114, D and E by 45/105; C overlaps nothing
BOXES = torch.tensor(
    [
        [0.0, 0.0, 10.0, 10.0],  # A
        [1.0, 1.0, 11.0, 11.0],  # E
        [0.0, 0.0, 10.0, 5.0],  # B
        [20.0, 20.0, 30.0, 30.0],  # C
        [0.0, 5.0, 10.0, 10.0],  # D
    ]
)
SCORES = torch.tensor([0.9, 0.85, 0.8, 0.7, 0.6])


def test_linear_by_hand():
    dets, inds = soft_nms(BOXES, SCORES, iou_threshold=0.3, min_score=0.0)
    # A kept: E, B, D decay by 1 - IoU; then C; then B: E decays again
    # (36/114 >= 0.3); then D: E decays by 1 - 45/105; then E
    e_score = 0.85 * (1 - 81 / 119) * (1 - 36 / 114) * (1 - 45 / 105)
    assert inds.tolist() == [0, 3, 2, 4, 1]
    expected = torch.tensor([0.9, 0.7, 0.4, 0.3, e_score])
    torch.testing.assert_close(dets[:, 4], expected)
    torch.testing.assert_close(dets[:, :4], BOXES[inds])


def test_min_score_drops_and_threshold_spares():
    # E falls to 0.2714 after A and is dropped; B's IoU with E (0.316) is
    # below the 0.35 threshold, so D is never decayed by B
    dets, inds = soft_nms(BOXES, SCORES, iou_threshold=0.35, min_score=0.28)
    assert inds.tolist() == [0, 3, 2, 4]
    torch.testing.assert_close(dets[:, 4], torch.tensor([0.9, 0.7, 0.4, 0.3]))


def test_gaussian_by_hand():
    dets, inds = soft_nms(
        BOXES, SCORES, method='gaussian', sigma=0.5, min_score=0.0
    )
    decay = {
        pair: np.exp(-(iou**2) / 0.5)
        for pair, iou in {
            'AE': 81 / 119,
            'AB': 0.5,
            'AD': 0.5,
            'BE': 36 / 114,
            'DE': 45 / 105,
        }.items()
    }
    b, d = 0.8 * decay['AB'], 0.6 * decay['AD']
    e = 0.85 * decay['AE'] * decay['BE'] * decay['DE']
    assert inds.tolist() == [0, 3, 2, 4, 1]
    torch.testing.assert_close(
        dets[:, 4], torch.tensor([0.9, 0.7, b, d, e], dtype=torch.float32)
    )


def test_naive_is_hard_nms_and_numpy_works():
    gen = torch.Generator().manual_seed(0)
    xy = torch.rand(60, 2, generator=gen) * 50
    boxes = torch.cat([xy, xy + 5 + torch.rand(60, 2, generator=gen) * 20], 1)
    scores = torch.rand(60, generator=gen)
    dets, inds = soft_nms(boxes, scores, 0.4, method='naive', min_score=1e-9)
    # suppressed boxes fall to 0, below min_score
    assert inds.tolist() == tv_nms(boxes, scores, 0.4).tolist()
    torch.testing.assert_close(dets[:, 4], scores[inds])
    np_dets, np_inds = soft_nms(boxes.numpy(), scores.numpy(), 0.4)
    th_dets, th_inds = soft_nms(boxes, scores, 0.4)
    assert isinstance(np_dets, np.ndarray)
    assert np_inds.tolist() == th_inds.tolist()


def test_bad_method_and_keys_are_refused():
    with pytest.raises(ValueError, match='method'):
        soft_nms(BOXES, SCORES, method='cubic')
    scores = torch.rand(5, 3)
    cfg = dict(type='soft_nms', iou_threshold=0.5, max_num=3)
    with pytest.raises(KeyError, match='max_num'):
        multiclass_nms(BOXES, scores, 0.05, cfg)


def test_multiclass_soft_nms_keeps_classes_apart():
    # class 0 holds every box, class 1 only A: A of class 1 is not decayed
    # by A of class 0 (same box, other class)
    scores = torch.zeros(5, 3)
    scores[:, 0] = SCORES
    scores[0, 1] = 0.5
    cfg = dict(type='soft_nms', iou_threshold=0.3, min_score=0.05)
    dets, labels = multiclass_nms(BOXES, scores, 0.05, cfg, max_num=4)
    ref, _ = soft_nms(BOXES, SCORES, iou_threshold=0.3, min_score=0.05)
    expected = torch.cat([ref[:, 4], torch.tensor([0.5])]).sort(
        descending=True
    )[0][:4]
    torch.testing.assert_close(dets[:, 4], expected)
    assert labels.tolist() == [0, 0, 1, 0]
