"""HungarianAssigner and the match costs against MMDetection 2.28.2.

The reference numbers (tests/data/reference/hungarian_match_costs.json)
were computed by MMDetection 2.28.2 on the inputs stored beside them.
"""

import json
from pathlib import Path

import pytest
import torch

from mmdet.core.bbox import HungarianAssigner, build_assigner, build_match_cost
from mmdet.utils.arg_errors import InvalidArgumentError

REF = json.loads(
    (
        Path(__file__).parents[1] / 'data/reference/hungarian_match_costs.json'
    ).read_text()
)
INP = {
    k: torch.tensor(v) for k, v in REF['inputs'].items() if k != 'img_shape'
}
IMG_META = dict(img_shape=tuple(REF['inputs']['img_shape']))
FACTOR = torch.tensor([80.0, 64.0, 80.0, 64.0])


def _cost_inputs(name):
    if name.startswith(('ClassificationCost', 'FocalLossCost')) and (
        not name.endswith('binary')
    ):
        return INP['cls_pred'], INP['gt_labels']
    if name.startswith('BBoxL1Cost'):
        return INP['bbox_pred'], INP['gt_bboxes'] / FACTOR
    if name.startswith('IoUCost'):
        return INP['pred_bboxes_px'], INP['gt_bboxes']
    return INP['mask_logits'], INP['gt_masks']


@pytest.mark.parametrize('name', sorted(REF['costs']))
def test_match_cost_matches_mmdet(name):
    case = REF['costs'][name]
    cost = build_match_cost(case['cfg'])(*_cost_inputs(name))
    expected = torch.tensor(case['value'])
    assert cost.shape == expected.shape
    torch.testing.assert_close(cost, expected, atol=1e-4, rtol=0)


def test_focal_cost_float64_formula():
    logits = torch.tensor([[0.3, -1.2], [2.0, 0.1]], dtype=torch.float64)
    cost = build_match_cost(dict(type='FocalLossCost', weight=1.0))(
        logits, torch.tensor([1])
    )
    p = torch.sigmoid(logits[:, 1])
    pos = -torch.log(p) * 0.25 * (1 - p) ** 2
    neg = -torch.log(1 - p) * 0.75 * p**2
    torch.testing.assert_close(cost[:, 0], pos - neg)


def test_bad_arguments_refused():
    with pytest.raises(InvalidArgumentError):
        build_match_cost(dict(type='BBoxL1Cost', box_format='cxcywh'))
    with pytest.raises(InvalidArgumentError):
        build_match_cost(dict(type='CrossEntropyLossCost', use_sigmoid=False))
    with pytest.raises(InvalidArgumentError):
        HungarianAssigner().assign(
            INP['bbox_pred'],
            INP['cls_pred'],
            INP['gt_bboxes'],
            INP['gt_labels'],
            IMG_META,
            gt_bboxes_ignore=INP['gt_bboxes'][:1],
        )


@pytest.mark.parametrize('name', sorted(REF['assign']))
def test_assignment_matches_mmdet(name):
    case = REF['assign'][name]
    n = case.get('n', len(INP['bbox_pred']))
    assigner = build_assigner(dict(type='HungarianAssigner', **case['cfg']))
    result = assigner.assign(
        INP['bbox_pred'][:n],
        INP['cls_pred'][:n],
        INP['gt_bboxes'],
        INP['gt_labels'],
        IMG_META,
    )
    assert result.gt_inds.tolist() == case['gt_inds']
    assert result.labels.tolist() == case['labels']
    assert result.num_gts == len(INP['gt_bboxes'])


def test_empty_inputs():
    assigner = HungarianAssigner()
    res = assigner.assign(
        INP['bbox_pred'],
        INP['cls_pred'],
        torch.zeros(0, 4),
        torch.zeros(0, dtype=torch.long),
        IMG_META,
    )
    assert res.gt_inds.tolist() == [0] * 6
    assert res.labels.tolist() == [-1] * 6
    res = assigner.assign(
        torch.zeros(0, 4),
        torch.zeros(0, 5),
        INP['gt_bboxes'],
        INP['gt_labels'],
        IMG_META,
    )
    assert res.gt_inds.numel() == 0
