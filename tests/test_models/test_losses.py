"""Losses: values against direct formulas and torch's own functions."""

import pytest
import torch
import torch.nn.functional as F

from mmdet.models import build_loss
from mmdet.models.losses import (
    Accuracy,
    CrossEntropyLoss,
    L1Loss,
    SmoothL1Loss,
    accuracy,
    reduce_loss,
    weight_reduce_loss,
    weighted_loss,
)


def test_reduce_loss_modes():
    loss = torch.tensor([1.0, 2.0, 3.0, 6.0])
    assert reduce_loss(loss, 'none') is loss
    assert reduce_loss(loss, 'mean').item() == 3.0
    assert reduce_loss(loss, 'sum').item() == 12.0
    with pytest.raises(ValueError):
        reduce_loss(loss, 'max')


def test_weight_reduce_loss_avg_factor():
    loss = torch.tensor([1.0, 2.0, 3.0, 6.0])
    weight = torch.tensor([1.0, 0.0, 1.0, 0.5])
    # weighted sum 1 + 3 + 3 = 7
    assert weight_reduce_loss(loss, weight, 'sum').item() == 7.0
    assert weight_reduce_loss(loss, weight, 'mean').item() == 7.0 / 4
    assert weight_reduce_loss(
        loss, weight, 'mean', avg_factor=2.0
    ).item() == pytest.approx(3.5)
    assert torch.equal(
        weight_reduce_loss(loss, weight, 'none', avg_factor=2.0), loss * weight
    )
    with pytest.raises(ValueError):
        weight_reduce_loss(loss, weight, 'sum', avg_factor=2.0)
    # avg_factor 0 (no samples) stays finite
    assert torch.isfinite(
        weight_reduce_loss(loss * 0, None, 'mean', avg_factor=0)
    )


def test_weighted_loss_decorator_passes_extra_kwargs():

    @weighted_loss
    def scaled_abs(pred, target, scale=1.0):
        return (pred - target).abs() * scale

    pred, target = torch.tensor([1.0, 3.0]), torch.tensor([0.0, 0.0])
    assert scaled_abs(pred, target).item() == 2.0
    assert scaled_abs(pred, target, scale=2.0, reduction='sum').item() == 8.0
    assert scaled_abs(
        pred, target, torch.tensor([0.0, 1.0]), avg_factor=3.0
    ).item() == pytest.approx(1.0)


def test_softmax_cross_entropy_matches_torch():
    torch.manual_seed(0)
    logits = torch.randn(6, 4)
    labels = torch.tensor([0, 3, 1, 3, 2, 0])
    loss = CrossEntropyLoss()
    assert torch.allclose(
        loss(logits, labels), F.cross_entropy(logits, labels)
    )
    weight = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    expected = (
        F.cross_entropy(logits, labels, reduction='none') * weight
    ).sum() / 4
    assert torch.allclose(loss(logits, labels, weight, avg_factor=4), expected)
    weighted = CrossEntropyLoss(
        class_weight=[1.0, 2.0, 3.0, 4.0], loss_weight=0.5
    )
    expected = (
        0.5
        * F.cross_entropy(
            logits,
            labels,
            weight=torch.tensor([1.0, 2.0, 3.0, 4.0]),
            reduction='none',
        ).mean()
    )
    assert torch.allclose(weighted(logits, labels), expected)
    assert loss(logits, labels, reduction_override='none').shape == (6,)


def test_cross_entropy_ignore_index_and_avg_non_ignore():
    torch.manual_seed(1)
    logits = torch.randn(5, 3)
    labels = torch.tensor([0, 2, -1, 1, -1])
    per_elem = F.cross_entropy(
        logits, labels, ignore_index=-1, reduction='none'
    )
    with pytest.warns(UserWarning):
        plain = CrossEntropyLoss(ignore_index=-1)
    assert torch.allclose(plain(logits, labels), per_elem.sum() / 5)
    non_ignore = CrossEntropyLoss(ignore_index=-1, avg_non_ignore=True)
    assert torch.allclose(
        non_ignore(logits, labels),
        F.cross_entropy(logits, labels, ignore_index=-1),
    )


def test_sigmoid_cross_entropy_expands_labels_background_last():
    torch.manual_seed(2)
    logits = torch.randn(4, 3)
    labels = torch.tensor([0, 3, 2, 3])  # 3 = background: all-zero target
    onehot = torch.tensor([[1.0, 0, 0], [0, 0, 0], [0, 0, 1], [0, 0, 0]])
    loss = CrossEntropyLoss(use_sigmoid=True)
    assert torch.allclose(
        loss(logits, labels),
        F.binary_cross_entropy_with_logits(logits, onehot),
    )
    # per-sample weights apply to every class of the sample
    weight = torch.tensor([1.0, 0.0, 1.0, 1.0])
    expected = (
        F.binary_cross_entropy_with_logits(logits, onehot, reduction='none')
        * weight[:, None]
    ).sum() / 2.0
    assert torch.allclose(
        loss(logits, labels, weight, avg_factor=2.0), expected
    )


def test_sigmoid_rpn_objectness_single_channel():
    # the RPN: one channel, label 0 = object, 1 = background
    logits = torch.tensor([[2.0], [-1.0], [0.5]])
    labels = torch.tensor([0, 1, 1])
    targets = torch.tensor([[1.0], [0.0], [0.0]])
    loss = build_loss(dict(type='CrossEntropyLoss', use_sigmoid=True))
    assert torch.allclose(
        loss(logits, labels, torch.ones(3), avg_factor=3),
        F.binary_cross_entropy_with_logits(logits, targets),
    )


def test_mask_cross_entropy_uses_the_roi_class_channel():
    torch.manual_seed(3)
    pred = torch.randn(2, 3, 4, 4)
    target = (torch.rand(2, 4, 4) > 0.5).float()
    labels = torch.tensor([2, 0])
    loss = CrossEntropyLoss(use_mask=True)
    expected = F.binary_cross_entropy_with_logits(
        torch.stack([pred[0, 2], pred[1, 0]]), target
    )
    out = loss(pred, target, labels)
    assert out.shape == (1,)
    assert torch.allclose(out, expected[None])


def test_cross_entropy_options_are_checked():
    with pytest.raises(ValueError):
        CrossEntropyLoss(use_sigmoid=True, use_mask=True)
    with pytest.raises(TypeError):
        build_loss(dict(type='CrossEntropyLoss', use_sigmod=True))


def test_smooth_l1_and_l1_values():
    pred = torch.tensor([[0.5, 2.0, 0.0, -1.0]])
    target = torch.zeros(1, 4)
    # beta 1: 0.5*0.25=0.125, 2-0.5=1.5, 0, 1-0.5=0.5
    smooth = SmoothL1Loss(beta=1.0, reduction='sum')
    assert smooth(pred, target).item() == pytest.approx(2.125)
    # beta 0.5: 0.5 -> 0.5-0.25=0.25; 2 -> 1.75; 1 -> 0.75
    assert SmoothL1Loss(beta=0.5, reduction='sum')(
        pred, target
    ).item() == pytest.approx(2.75)
    l1 = L1Loss(loss_weight=2.0)
    weight = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
    assert l1(pred, target, weight, avg_factor=5).item() == pytest.approx(
        2.0 * 2.5 / 5
    )
    assert l1(pred, target, reduction_override='none').shape == (1, 4)


def test_regression_losses_without_targets_keep_the_graph():
    pred = torch.zeros(0, 4, requires_grad=True)
    for loss in (L1Loss(), SmoothL1Loss()):
        out = loss(pred, torch.zeros(0, 4), avg_factor=1.0)
        assert out.item() == 0
        out.backward()
    assert pred.grad is not None


def test_accuracy_topk_and_threshold():
    pred = torch.tensor(
        [[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.3, 0.3, 0.4], [0.1, 0.3, 0.6]]
    )
    target = torch.tensor([1, 1, 2, 0])
    top1, top2 = accuracy(pred, target, topk=(1, 2))
    assert top1.item() == pytest.approx(50.0)  # rows 0 and 2
    assert top2.item() == pytest.approx(75.0)  # and row 1
    assert accuracy(pred, target).item() == pytest.approx(50.0)
    # with a threshold 0.5, only row 0's correct prediction counts
    assert accuracy(pred, target, thresh=0.5).item() == pytest.approx(25.0)
    assert accuracy(pred[:0], target[:0]).item() == 0.0
    acc = Accuracy(topk=(1, 2))
    assert [a.item() for a in acc(pred, target)] == pytest.approx([50.0, 75.0])
