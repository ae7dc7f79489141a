"""Box coders against numbers MMDetection 2.28.2 computed on the same
seeded inputs (``tests/data/reference/coders_mmdet228.json``)."""

import json
import os.path as osp

import pytest
import torch

from mmdet.core.bbox import build_bbox_coder

REF = osp.join(
    osp.dirname(osp.dirname(__file__)),
    'data',
    'reference',
    'coders_mmdet228.json',
)
with open(REF) as f:
    DATA = json.load(f)
INPUTS = {k: torch.tensor(v) for k, v in DATA['inputs'].items()}
INPUTS['strides_col'] = INPUTS['strides'].unsqueeze(-1)


def resolve(value):
    return INPUTS[value] if isinstance(value, str) else value


@pytest.mark.parametrize(
    'case', DATA['cases'], ids=[c['name'] for c in DATA['cases']]
)
def test_coder_matches_mmdetection(case):
    coder = build_bbox_coder(dict(case['cfg']))
    args = [resolve(a) for a in case['args']]
    kwargs = {k: resolve(v) for k, v in case['kwargs'].items()}
    if 'max_shape' in kwargs:
        kwargs['max_shape'] = tuple(kwargs['max_shape'])
    out = getattr(coder, case['method'])(*args, **kwargs)
    torch.testing.assert_close(
        out, torch.tensor(case['value']), atol=1e-4, rtol=1e-4
    )


def test_tblr_decode_inverts_encode():
    coder = build_bbox_coder(
        dict(type='TBLRBBoxCoder', normalizer=2.0, clip_border=False)
    )
    priors, gts = INPUTS['priors'], INPUTS['gts']
    decoded = coder.decode(priors, coder.encode(priors, gts))
    torch.testing.assert_close(decoded, gts, atol=1e-4, rtol=1e-4)


def test_legacy_round_trip_grows_boxes_by_the_plus_one():
    """Encoding counts ``x2 - x1 + 1`` as the width, decoding spreads that
    width around the center: each side moves out by 0.5, as MMDetection."""
    coder = build_bbox_coder(
        dict(type='LegacyDeltaXYWHBBoxCoder', target_stds=(0.1, 0.1, 0.2, 0.2))
    )
    priors, gts = INPUTS['priors'], INPUTS['gts']
    decoded = coder.decode(priors, coder.encode(priors, gts))
    grown = gts + torch.tensor([-0.5, -0.5, 0.5, 0.5])
    torch.testing.assert_close(decoded, grown, atol=1e-4, rtol=1e-4)


def test_yolo_decode_inverts_encode_inside_the_cell():
    coder = build_bbox_coder(dict(type='YOLOBBoxCoder'))
    priors = INPUTS['priors']
    # gt centers within half a stride of the anchor centers
    gts = priors + torch.tensor([1.0, -2.0, 3.0, 0.5])
    encoded = coder.encode(priors, gts, 16.0)
    torch.testing.assert_close(
        coder.decode(priors, encoded, 16.0), gts, atol=1e-4, rtol=1e-4
    )


def test_legacy_decode_batched_equals_per_image():
    coder = build_bbox_coder(dict(type='LegacyDeltaXYWHBBoxCoder'))
    priors, deltas = INPUTS['priors'], INPUTS['deltas']
    batched = coder.decode(
        torch.stack([priors, priors.flip(0)]),
        torch.stack([deltas, deltas * 0.5]),
        max_shape=(25, 30),
    )
    torch.testing.assert_close(
        batched[0], coder.decode(priors, deltas, max_shape=(25, 30))
    )
    torch.testing.assert_close(
        batched[1],
        coder.decode(priors.flip(0), deltas * 0.5, max_shape=(25, 30)),
    )
