"""Assigners against the assignments MMDetection 2.28.2 made on the same
seeded inputs (``tests/data/reference/assigners_mmdet228.json``)."""

import json
import os.path as osp

import pytest
import torch

from mmdet.core.anchor import build_prior_generator
from mmdet.core.bbox import build_assigner
from mmdet.utils.arg_errors import InvalidArgumentError

REF = osp.join(
    osp.dirname(osp.dirname(__file__)),
    'data',
    'reference',
    'assigners_mmdet228.json',
)
with open(REF) as f:
    DATA = json.load(f)
INPUTS = {
    k: torch.tensor(v, dtype=torch.long if 'gt_labels' in k else None)
    for k, v in DATA['inputs'].items()
}
INPUTS['flags'] = INPUTS['flags'].to(torch.uint8)


def resolve(value):
    return INPUTS[value] if isinstance(value, str) else value


def run(case):
    assigner = build_assigner(dict(case['cfg']))
    args = [resolve(a) for a in case['args']]
    kwargs = {k: resolve(v) for k, v in case['kwargs'].items()}
    return assigner.assign(*args, **kwargs)


@pytest.mark.parametrize(
    'case', DATA['cases'], ids=[c['name'] for c in DATA['cases']]
)
def test_assigner_matches_mmdetection(case):
    result, expected = run(case), case['result']
    assert result.gt_inds.tolist() == expected['gt_inds']
    got_labels = None if result.labels is None else result.labels.tolist()
    assert got_labels == expected['labels']
    if expected['max_overlaps'] is None:
        assert result.max_overlaps is None
    else:
        torch.testing.assert_close(
            result.max_overlaps,
            torch.tensor(expected['max_overlaps']),
            atol=1e-4,
            rtol=1e-4,
        )
    if 'assign_metrics' in expected:
        torch.testing.assert_close(
            result.assign_metrics,
            torch.tensor(expected['assign_metrics']),
            atol=1e-4,
            rtol=1e-4,
        )
    if 'shadowed_labels' in expected:
        shadowed = result.get_extra_property('shadowed_labels')
        got = None if shadowed is None else shadowed.tolist()
        assert got == expected['shadowed_labels']
    for key in ('pos_idx', 'pos_predicted_boxes', 'target_boxes'):
        if key in expected:
            got = result.get_extra_property(key)
            want = torch.tensor(expected[key], dtype=got.dtype)
            torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


def test_assigners_with_no_gt_give_background():
    gts = torch.zeros((0, 4))
    labels = torch.zeros((0,), dtype=torch.long)
    anchors, preds = INPUTS['anchors'], INPUTS['preds']
    results = [
        build_assigner(dict(type='TaskAlignedAssigner', topk=3)).assign(
            INPUTS['scores'], preds, anchors, gts, gt_labels=labels
        ),
        build_assigner(dict(type='SimOTAAssigner')).assign(
            INPUTS['scores'], INPUTS['sim_priors'], preds, gts, labels
        ),
        build_assigner(dict(type='PointAssigner')).assign(
            INPUTS['points'], gts, gt_labels=labels
        ),
        build_assigner(
            dict(
                type='UniformAssigner', pos_ignore_thr=0.1, neg_ignore_thr=0.7
            )
        ).assign(preds, anchors, gts, gt_labels=labels),
    ]
    for result in results:
        assert (result.gt_inds == 0).all()
        assert (result.labels == -1).all()


def test_ascend_max_iou_assigner_assigns_as_max_iou():
    cfg = dict(pos_iou_thr=0.5, neg_iou_thr=0.4, min_pos_iou=0.0)
    args = (INPUTS['anchors'], INPUTS['gts'])
    ascend = build_assigner(dict(type='AscendMaxIoUAssigner', **cfg))
    plain = build_assigner(dict(type='MaxIoUAssigner', **cfg))
    assert torch.equal(
        ascend.assign(*args).gt_inds, plain.assign(*args).gt_inds
    )


def test_task_aligned_topk_checked():
    with pytest.raises(InvalidArgumentError):
        build_assigner(dict(type='TaskAlignedAssigner', topk=0))


def test_legacy_point_generator_matches_mmdetection():
    gen = build_prior_generator(dict(type='PointGenerator'))
    expected = DATA['point_generator']
    grid = gen.grid_points((3, 4), stride=8, device='cpu')
    assert grid.tolist() == expected['grid']
    valid = gen.valid_flags((3, 4), (2, 3), device='cpu')
    assert valid.tolist() == expected['valid']
    with pytest.raises(InvalidArgumentError):
        gen.valid_flags((3, 4), (4, 3), device='cpu')


@pytest.mark.parametrize('case', DATA['legacy_anchor_generator'])
def test_legacy_anchor_generator_matches_mmdetection(case):
    gen = build_prior_generator(dict(case['cfg']))
    sizes = [(2, 3), (1, 2)] if case['cfg']['strides'][0] == 4 else None
    sizes = sizes or [(2, 2), (1, 1)]
    for got, want in zip(
        gen.grid_priors(sizes, device='cpu'), case['anchors']
    ):
        torch.testing.assert_close(got, torch.tensor(want))


def test_legacy_anchor_generator_mmdetection_docstring_example():
    gen = build_prior_generator(
        dict(
            type='LegacyAnchorGenerator',
            strides=[16],
            ratios=[1.0],
            scales=[1.0],
            base_sizes=[9],
            center_offset=0.5,
        )
    )
    (anchors,) = gen.grid_priors([(2, 2)], device='cpu')
    expected = [[0, 0, 8, 8], [16, 0, 24, 8], [0, 16, 8, 24], [16, 16, 24, 24]]
    assert anchors.tolist() == expected
