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

DATA = Path(__file__).parents[1] / 'data' / 'reference' / 'dense_heads'
CASES = sorted(p.stem for p in DATA.glob('*.npz'))


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
    losses = head.loss(
        *head(feats),
        [torch.tensor(b) for b in gts['bboxes']],
        [torch.tensor(lab) for lab in gts['labels']],
        metas,
    )
    expected = {k[5:]: data[k] for k in data if k.startswith('loss/')}
    assert set(losses) == set(expected)
    for name, value in losses.items():
        value = value if isinstance(value, (list, tuple)) else [value]
        got = np.array([float(v) for v in value])
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
