"""Seeded detectors compared with MMDetection 2.28.2: the reference JSON
holds the model config, MMDetection's sorted state-dict keys and shapes,
and its ``simple_test`` output on the seeded weights (every floating entry
from its own seed, as :func:`fill`) and the seeded image of
:func:`run_simple_test`."""

import json

import numpy as np
import pytest
import torch
from mmcv import Config

from mmdet.models import build_detector


def fill(model):
    """Every floating state-dict entry from ``randn`` of seed = its rank in
    the sorted keys: fan-in scaled weights, 0.1 biases, positive vars."""
    for i, (name, p) in enumerate(sorted(model.state_dict().items())):
        if not p.is_floating_point():
            continue
        r = torch.randn(p.shape, generator=torch.Generator().manual_seed(i))
        if name.endswith('running_var'):
            p.copy_(r.abs() * 0.5 + 0.5)
        elif p.dim() > 1:
            p.copy_(r / float(np.sqrt(p[0].numel())))
        else:
            p.copy_(r * 0.1)


def run_simple_test(ref):
    """This tree's ``simple_test`` of the reference's seeded model (after
    checking its keys and shapes) on the reference's input."""
    model = build_detector(Config(dict(model=ref['model'])).model)
    state = model.state_dict()
    assert sorted(state) == ref['keys']
    assert [list(state[k].shape) for k in ref['keys']] == ref['shapes']
    fill(model)
    model.eval()
    img = torch.randn(1, 3, 64, 80, generator=torch.Generator().manual_seed(7))
    meta = dict(
        img_shape=(64, 80, 3),
        ori_shape=(32, 40, 3),
        pad_shape=(64, 80, 3),
        scale_factor=np.array([2.0, 2.0, 2.0, 2.0], dtype=np.float32),
        flip=False,
        flip_direction=None,
    )
    with torch.no_grad():
        return model.simple_test(img, [meta], rescale=True)[0]


def assert_matches(result, ref):
    """Boxes and scores to 1e-4; masks equal pixel for pixel."""
    bboxes, segms = result if isinstance(result, tuple) else (result, None)
    assert [len(b) for b in bboxes] == [len(b) for b in ref['bboxes']]
    for got, want in zip(bboxes, ref['bboxes']):
        if len(want):
            np.testing.assert_allclose(got, np.array(want), atol=1e-4)
    if 'masks' not in ref:
        return
    for got_cls, want_cls in zip(segms, ref['masks']):
        got = [
            np.packbits(np.asarray(m, dtype=bool).ravel()).tobytes().hex()
            for m in got_cls
        ]
        assert got == want_cls


def load(path):
    with open(path) as f:
        ref = json.load(f)
    if not any(len(b) for b in ref['bboxes']):
        pytest.fail('reference has no detections: a vacuous comparison')
    return ref
