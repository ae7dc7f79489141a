"""SeesawLoss against MMDetection 2.28.2 (two successive calls on seeded
logits, so the second sees the counts of the first; numbers in
``tests/data/reference/seesaw_loss_mmdet228.json``) and a float64 written-out
formula."""

import json
import os.path as osp

import pytest
import torch
import torch.nn.functional as F

from mmdet.models import build_loss
from mmdet.utils.arg_errors import InvalidArgumentError

REF = osp.join(
    osp.dirname(osp.dirname(__file__)),
    'data',
    'reference',
    'seesaw_loss_mmdet228.json',
)
with open(REF) as f:
    DATA = json.load(f)


def _loss(num_classes):
    return build_loss(
        dict(type='SeesawLoss', p=0.8, q=2.0, num_classes=num_classes)
    )


def test_seesaw_matches_mmdetection():
    loss = _loss(DATA['num_classes'])
    for step in DATA['steps']:
        score = torch.tensor(step['cls_score'])
        labels = torch.tensor(step['labels'])
        weights = torch.tensor(step['label_weights'])
        out = loss(score, labels, weights, avg_factor=10.0)
        for key in ('loss_cls_objectness', 'loss_cls_classes'):
            assert out[key].item() == pytest.approx(step[key], abs=1e-4)
        acc = loss.get_accuracy(score, labels)
        for key in ('acc_objectness', 'acc_classes'):
            assert acc[key].item() == pytest.approx(step[key], abs=1e-4)
        assert torch.allclose(
            loss.get_activation(score),
            torch.tensor(step['activation']),
            atol=1e-4,
        )
        assert loss.cum_samples.tolist() == step['cum_samples']


def _seesaw_reference(score, labels, counts, p, q, eps):
    """Per-sample seesaw CE, written out in float64 loops."""
    score, counts = score.double(), counts.double().clamp(min=1)
    prob = F.softmax(score, dim=1)
    out = []
    for n, i in enumerate(labels.tolist()):
        denom = 0.0
        for j in range(score.size(1)):
            s = 1.0
            if j != i:
                if counts[j] < counts[i]:
                    s *= (counts[j] / counts[i]) ** p
                ratio = prob[n, j] / max(prob[n, i], eps)
                if ratio > 1:
                    s *= ratio**q
            denom += s * torch.exp(score[n, j])
        out.append(-(score[n, i] - torch.log(denom)))
    return torch.stack(out)


def test_seesaw_formula_float64():
    torch.manual_seed(1)
    loss = _loss(4)
    score = torch.randn(8, 6) * 3
    labels = torch.tensor([0, 1, 1, 2, 3, 4, 0, 0])
    loss.cum_samples.copy_(torch.tensor([9.0, 2.0, 0.0, 5.0, 30.0]))
    out = loss(score, labels, reduction_override='none')
    counts = loss.cum_samples[:4]
    pos = labels < 4
    want = _seesaw_reference(
        score[:, :4][pos], labels[pos], counts, 0.8, 2, 0.01
    )
    assert torch.allclose(out['loss_cls_classes'].double(), want, atol=1e-5)


def test_seesaw_arguments():
    with pytest.raises(InvalidArgumentError):
        build_loss(dict(type='SeesawLoss', use_sigmoid=True))
    loss = _loss(3)
    with pytest.raises(InvalidArgumentError):
        loss.get_cls_channels(4)
    with pytest.raises(InvalidArgumentError):
        loss(torch.zeros(2, 4), torch.tensor([0, 3]))
    assert loss.get_cls_channels(3) == 5
    assert 'cum_samples' in loss.state_dict()


def test_seesaw_background_only_is_zero_class_loss():
    loss = _loss(3)
    score = torch.randn(4, 5, requires_grad=True)
    out = loss(score, torch.full((4,), 3))
    assert out['loss_cls_classes'].item() == 0
    (out['loss_cls_classes'] + out['loss_cls_objectness']).backward()
    assert score.grad is not None
