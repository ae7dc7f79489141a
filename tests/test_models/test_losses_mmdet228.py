"""Losses against numbers MMDetection 2.28.2 computed on the same seeded
inputs (``tests/data/reference/losses_mmdet228.json``: the inputs, each
case's loss config, call arguments and MMDetection's value)."""

import json
import os.path as osp

import pytest
import torch

from mmdet.models import build_loss
from mmdet.utils.arg_errors import InvalidArgumentError

REF = osp.join(
    osp.dirname(osp.dirname(__file__)),
    'data',
    'reference',
    'losses_mmdet228.json',
)
with open(REF) as f:
    DATA = json.load(f)
INPUTS = {
    k: torch.tensor(v, dtype=torch.long if k == 'labels' else torch.float32)
    for k, v in DATA['inputs'].items()
}


def positional(names):
    """'QFL' stands for the (labels, IoU scores) target pair."""
    return [
        (INPUTS['labels'], INPUTS['scores']) if n == 'QFL' else INPUTS[n]
        for n in names
    ]


@pytest.mark.parametrize(
    'case', DATA['cases'], ids=[c['name'] for c in DATA['cases']]
)
def test_loss_matches_mmdetection(case):
    loss = build_loss(dict(case['cfg']))
    kwargs = dict(case['kwargs'])
    if 'weight' in kwargs:
        kwargs['weight'] = INPUTS[kwargs['weight']]
    value = loss(*positional(case['args']), **kwargs)
    expected = torch.tensor(case['value'])
    assert value.shape == expected.shape
    torch.testing.assert_close(value.detach(), expected, atol=1e-4, rtol=1e-4)


def test_ghm_momentum_keeps_running_bin_counts():
    loss = build_loss(dict(type='GHMC', bins=4, momentum=0.5))
    assert set(loss.state_dict()) == {'edges', 'acc_sum'}
    logits, labels = INPUTS['logits'], INPUTS['labels']
    valid = torch.ones(len(labels))
    loss(logits, labels, valid)
    first = loss.acc_sum.clone()
    loss(logits, labels, valid)
    # same histogram twice: counts c -> 0.5c -> 0.75c
    torch.testing.assert_close(loss.acc_sum, first * 1.5)
    assert first.sum().item() == pytest.approx(0.5 * logits.numel())


def test_zero_weight_box_losses_keep_graph():
    pred = INPUTS['box_pred'].clone().requires_grad_()
    for name in ('DIoULoss', 'CIoULoss', 'BoundedIoULoss'):
        out = build_loss(dict(type=name))(
            pred, INPUTS['box_target'], weight=torch.zeros(6)
        )
        assert out.item() == 0 and out.requires_grad


@pytest.mark.parametrize(
    'cfg',
    [
        dict(type='QualityFocalLoss', use_sigmoid=False),
        dict(type='VarifocalLoss', alpha=-1.0),
        dict(type='KnowledgeDistillationKLDivLoss', T=0.5),
    ],
)
def test_invalid_arguments(cfg):
    with pytest.raises(InvalidArgumentError):
        build_loss(cfg)
