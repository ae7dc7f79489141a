"""OHEMSampler, CombinedSampler, InstanceBalancedPosSampler and
IoUBalancedNegSampler on hand-made assignments (counts derived by hand
from MMDetection 2.28's rules)."""

import pytest
import torch

from mmdet.core.bbox import AssignResult, build_sampler
from mmdet.core.bbox.samplers import (
    CombinedSampler,
    InstanceBalancedPosSampler,
    IoUBalancedNegSampler,
    OHEMSampler,
)
from mmdet.models.roi_heads.bbox_heads import BBoxHead
from mmdet.utils.arg_errors import InvalidArgumentError


def _assign(gt_inds, ious, num_gts=3):
    gt_inds = torch.tensor(gt_inds, dtype=torch.long)
    labels = torch.where(
        gt_inds > 0, gt_inds - 1, torch.full_like(gt_inds, -1)
    )
    return AssignResult(
        num_gts, gt_inds, torch.tensor(ious, dtype=torch.float32), labels
    )


def test_instance_balanced_pos_even_split():
    # 10 positives of gt 1, 2 of gt 2; 6 wanted: round(6 / 2) + 1 = 4 per gt
    assign = _assign([1] * 10 + [2] * 2 + [0] * 4, [0.8] * 12 + [0.1] * 4)
    sampler = InstanceBalancedPosSampler(num=12, pos_fraction=0.5)
    for seed in range(5):
        torch.manual_seed(seed)
        inds = sampler._sample_pos(assign, 6)
        gts = assign.gt_inds[inds]
        assert inds.unique().numel() == 6
        assert (gts == 1).sum() == 4 and (gts == 2).sum() == 2


def test_instance_balanced_pos_fills_shortfall():
    # 10, 1, 1 positives; 9 wanted: 4 per gt gives 4 + 1 + 1, 3 more of gt 1
    assign = _assign([1] * 10 + [2, 3] + [0] * 3, [0.8] * 12 + [0.0] * 3)
    inds = InstanceBalancedPosSampler(num=18, pos_fraction=0.5)._sample_pos(
        assign, 9
    )
    gts = assign.gt_inds[inds]
    assert inds.unique().numel() == 9
    assert (gts == 1).sum() == 7 and (gts == 2).sum() == 1
    # few positives: all of them
    few = InstanceBalancedPosSampler(num=4, pos_fraction=1.0)._sample_pos(
        assign, 20
    )
    assert sorted(few.tolist()) == list(range(12))


def _neg_case():
    # one positive of IoU 0.9 (the largest IoU: bins of width 0.3 from 0),
    # negatives: 10 at IoU 0.1, 2 at 0.4, 20 at 0
    ious = [0.9] + [0.1] * 10 + [0.4] * 2 + [0.0] * 20
    return _assign([1] + [0] * 32, ious)


def test_iou_balanced_neg_bins():
    assign = _neg_case()
    sampler = IoUBalancedNegSampler(
        num=12, pos_fraction=0.25, floor_thr=-1, floor_fraction=0, num_bins=3
    )
    for seed in range(5):
        torch.manual_seed(seed)
        inds = sampler._sample_neg(assign, 9)
        ious = assign.max_overlaps[inds]
        # 3 + 2 + 0 from the bins, 4 more from IoU > 0; none at IoU 0
        assert inds.unique().numel() == 9
        assert (assign.gt_inds[inds] == 0).all()
        assert torch.isclose(ious, torch.tensor(0.4)).sum() == 2
        assert torch.isclose(ious, torch.tensor(0.1)).sum() == 7


def test_iou_balanced_neg_floor_fraction():
    assign = _neg_case()
    sampler = IoUBalancedNegSampler(
        num=12, pos_fraction=0.25, floor_thr=0.05, floor_fraction=0.5
    )
    torch.manual_seed(0)
    inds = sampler._sample_neg(assign, 9)
    ious = assign.max_overlaps[inds]
    # int(9 * 0.5) = 4 above the floor (1 per bin + 2 filled), 5 below
    assert inds.unique().numel() == 9
    assert (ious == 0).sum() == 5
    assert (ious > 0.05).sum() == 4
    assert torch.isclose(ious, torch.tensor(0.4)).sum() >= 1
    # fewer negatives than wanted: all of them
    assert sampler._sample_neg(assign, 40).numel() == 32


def test_iou_balanced_neg_too_few_above_floor():
    assign = _neg_case()
    sampler = IoUBalancedNegSampler(num=40, pos_fraction=0.25, num_bins=3)
    inds = sampler._sample_neg(assign, 20)
    ious = assign.max_overlaps[inds]
    # the 12 with IoU > 0 all, then 8 at random from IoU 0
    assert (ious > 0).sum() == 12 and (ious == 0).sum() == 8


@pytest.mark.parametrize(
    'kwargs',
    [dict(floor_thr=-0.5), dict(floor_fraction=1.5), dict(num_bins=0)],
)
def test_iou_balanced_neg_argument_checks(kwargs):
    with pytest.raises(InvalidArgumentError):
        IoUBalancedNegSampler(num=4, pos_fraction=0.5, **kwargs)


def test_combined_sampler_libra_config():
    cfg = dict(
        type='CombinedSampler',
        num=16,
        pos_fraction=0.25,
        add_gt_as_proposals=False,
        pos_sampler=dict(type='InstanceBalancedPosSampler'),
        neg_sampler=dict(
            type='IoUBalancedNegSampler',
            floor_thr=-1,
            floor_fraction=0,
            num_bins=3,
        ),
    )
    sampler = build_sampler(cfg, context=None)
    assert isinstance(sampler, CombinedSampler)
    assert isinstance(sampler.pos_sampler, InstanceBalancedPosSampler)
    assert isinstance(sampler.neg_sampler, IoUBalancedNegSampler)
    assert sampler.neg_sampler.num == 16
    # 10 + 2 positives, 33 negatives
    gt_inds = [1] * 10 + [2] * 2 + [0] * 33
    ious = [0.8] * 12 + [0.1] * 10 + [0.4] * 3 + [0.0] * 20
    assign = _assign(gt_inds, ious)
    boxes = torch.rand(45, 4) * 10
    boxes[:, 2:] += boxes[:, :2]
    res = sampler.sample(assign, boxes, torch.rand(2, 4))
    # 16 * 0.25 = 4 positives (2 per gt), 12 negatives: the 13 negatives
    # with IoU > 0 are more than 12, so all 12 come from them
    assert res.pos_inds.numel() == 4
    assert (assign.gt_inds[res.pos_inds] == 2).sum() == 2
    assert res.neg_inds.numel() == 12
    assert (assign.max_overlaps[res.neg_inds] > 0).all()


class _FakeRoIHead:
    """Scores a RoI by its x1: the background logit is -x1, so the
    negatives with the largest x1 have the largest loss."""

    def __init__(self):
        self.bbox_head = BBoxHead(
            with_avg_pool=False, in_channels=1, roi_feat_size=1, num_classes=2
        )

    def _bbox_forward(self, feats, rois):
        x1 = rois[:, 1]
        fg = torch.zeros_like(x1)
        return dict(cls_score=torch.stack([fg, fg, -x1], dim=1))


def test_ohem_sampler_keeps_hardest():
    context = _FakeRoIHead()
    sampler = build_sampler(
        dict(type='OHEMSampler', num=6, pos_fraction=0.5, neg_pos_ub=-1),
        context=context,
    )
    assert isinstance(sampler, OHEMSampler)
    assert sampler.bbox_head is context.bbox_head
    n = 12
    x1 = torch.randperm(n).float()
    boxes = torch.stack([x1, x1, x1 + 5, x1 + 5], dim=1)
    # 2 positives (label 0), 10 negatives
    gt_inds = [1, 1] + [0] * 10
    assign = _assign(gt_inds, [0.7, 0.7] + [0.1] * 10, num_gts=1)
    res = sampler.sample(
        assign, boxes, boxes[:1], gt_labels=torch.tensor([0]), feats=None
    )
    # gt added first: 3 positives, 3 hardest negatives of 10
    assert res.pos_inds.numel() == 3
    all_boxes = torch.cat([boxes[:1], boxes])
    neg_x1 = all_boxes[res.neg_inds, 0]
    cand_x1 = x1[2:]
    expected = cand_x1.topk(3).values.sort().values
    assert torch.equal(neg_x1.sort().values, expected)
