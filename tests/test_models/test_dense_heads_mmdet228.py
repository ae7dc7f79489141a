"""VFNet, TOOD, GFL, LD and DDOD heads against MMDetection 2.28.2.

Each ``tests/data/reference/dense_heads/<case>.npz`` holds a tiny head's
config, a state dict (MMDetection's, randomly perturbed), two feature
levels of two 64x64 images, fixed gt boxes, and what MMDetection 2.28.2
computed: the training losses and the test-time detections. Our head
loads the state dict strictly (same keys and shapes) and must give the
same numbers to 4 decimals.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from mmcv import ConfigDict

from mmdet.models import build_head
from mmdet.models.dense_heads.gfl_head import Integral
from mmdet.models.dense_heads.tood_head import TaskDecomposition

DATA = Path(__file__).parents[1] / 'data' / 'reference' / 'dense_heads'
CASES = sorted(p.stem for p in DATA.glob('*.npz') if p.stem != 'parts')


def _load(case):
    data = np.load(DATA / f'{case}.npz')
    head = build_head(ConfigDict(json.loads(str(data['cfg']))))
    state = {
        k[3:]: torch.from_numpy(data[k]) for k in data if k.startswith('sd/')
    }
    head.load_state_dict(state, strict=True)
    if 'epoch' in data:
        head.epoch = int(data['epoch'])
    feats = [torch.from_numpy(data[f'feat/{i}']) for i in range(2)]
    gts = json.loads(str(data['gts']))
    metas = [
        dict(
            img_shape=(64, 64, 3),
            pad_shape=(64, 64, 3),
            scale_factor=np.ones(4, dtype=np.float32),
        )
    ] * 2
    return data, head, feats, gts, metas


@pytest.mark.parametrize('case', CASES)
def test_losses_match_mmdet(case):
    data, head, feats, gts, metas = _load(case)
    head.train()
    targets = [
        [torch.tensor(b) for b in gts['bboxes']],
        [torch.tensor(lab) for lab in gts['labels']],
    ]
    if 'soft/0' in data:  # LD: the teacher's side logits
        targets.append([torch.from_numpy(data[f'soft/{i}']) for i in (0, 1)])
    losses = head.loss(*head(feats), *targets, metas)
    expected = {k[5:]: data[k] for k in data if k.startswith('loss/')}
    assert set(losses) == set(expected)
    for name, value in losses.items():
        value = value if isinstance(value, (list, tuple)) else [value]
        got = np.array([float(v.detach()) for v in value])
        np.testing.assert_allclose(got, expected[name], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize('case', CASES)
def test_detections_match_mmdet(case):
    data, head, feats, _, metas = _load(case)
    head.eval()
    with torch.no_grad():
        results = head.get_bboxes(*head(feats), img_metas=metas)
    for i, (dets, labels) in enumerate(results):
        np.testing.assert_allclose(
            dets.numpy(), data[f'dets/{i}'], atol=1e-4, rtol=1e-4
        )
        np.testing.assert_array_equal(labels.numpy(), data[f'labels/{i}'])


def test_integral_matches_mmdet():
    data = np.load(DATA / 'parts.npz')
    out = Integral(8)(torch.from_numpy(data['integral_in']))
    np.testing.assert_allclose(out.numpy(), data['integral_out'], atol=1e-4)


def test_integral_is_the_expectation():
    logits = torch.randn(3, 4 * 5, dtype=torch.float64)
    prob = logits.reshape(3, 4, 5).softmax(-1)
    expected = (prob * torch.arange(5, dtype=torch.float64)).sum(-1)
    torch.testing.assert_close(Integral(4).double()(logits), expected)


def test_task_decomposition_matches_mmdet():
    data = np.load(DATA / 'parts.npz')
    module = TaskDecomposition(
        8, 3, 24, None, dict(type='GN', num_groups=4, requires_grad=True)
    )
    state = {
        k[6:]: torch.from_numpy(data[k])
        for k in data
        if k.startswith('td_sd/')
    }
    module.load_state_dict(state, strict=True)
    with torch.no_grad():
        out = module(torch.from_numpy(data['td_in']))
    np.testing.assert_allclose(out.numpy(), data['td_out'], atol=1e-4)
