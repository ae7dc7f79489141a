"""Every neck reproduces the outputs MMDetection 2.28.2's own code gave
for the same config, input and weights (tests/data/reference/
necks_mmdet228.json; cases in neck_parity_cases.py)."""

import importlib.util
import json
import os.path as osp

import pytest
import torch

from mmdet.models import BACKBONES, build_neck

HERE = osp.dirname(__file__)
spec = importlib.util.spec_from_file_location(
    'neck_parity_cases', osp.join(HERE, 'neck_parity_cases.py')
)
cases = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cases)
if 'RFPStubBackbone' not in BACKBONES.module_dict:
    BACKBONES.register_module(module=cases.RFPStubBackbone)
with open(
    osp.join(HERE, '..', 'data', 'reference', 'necks_mmdet228.json')
) as f:
    REFERENCE = json.load(f)


@pytest.mark.parametrize('name', sorted(cases.CASES))
def test_neck_outputs_match_mmdetection(name):
    neck = build_neck(cases.CASES[name][0]).eval()
    cases.set_weights(neck)
    with torch.no_grad():
        outs = neck(cases.make_inputs(name))
    expected = REFERENCE[name]
    assert len(outs) == len(expected)
    for out, exp in zip(outs, expected):
        got = cases.fingerprint(out)
        assert got['shape'] == exp['shape']
        scale = exp['abs_sum'] / out.numel()  # mean magnitude
        tol = dict(rtol=1e-4, atol=1e-4 * scale)
        torch.testing.assert_close(
            torch.tensor(got['samples'], dtype=torch.float64),
            torch.tensor(exp['samples'], dtype=torch.float64),
            **tol,
        )
        assert got['abs_sum'] == pytest.approx(exp['abs_sum'], rel=1e-5)
        assert got['sum'] == pytest.approx(
            exp['sum'], rel=1e-5, abs=1e-5 * exp['abs_sum']
        )
