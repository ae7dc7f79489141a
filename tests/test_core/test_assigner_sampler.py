"""MaxIoUAssigner, RandomSampler, PseudoSampler on hand-made cases."""

import pytest
import torch

from mmdet.core import (
    AssignResult,
    MaxIoUAssigner,
    PseudoSampler,
    RandomSampler,
    SamplingResult,
    build_assigner,
    build_sampler,
)

GT = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
# IoUs with GT: 1.0, 0.5, 0.0, 0.8
BOXES = torch.tensor(
    [
        [0.0, 0.0, 10.0, 10.0],
        [0.0, 0.0, 10.0, 5.0],
        [20.0, 20.0, 30.0, 30.0],
        [0.0, 0.0, 10.0, 8.0],
    ]
)


def test_basic_assignment_and_labels():
    assigner = MaxIoUAssigner(pos_iou_thr=0.7, neg_iou_thr=0.3)
    result = assigner.assign(BOXES, GT, gt_labels=torch.tensor([4]))
    assert result.num_gts == 1 and result.num_preds == 4
    assert result.gt_inds.tolist() == [1, -1, 0, 1]
    assert result.labels.tolist() == [4, -1, -1, 4]
    torch.testing.assert_close(
        result.max_overlaps, torch.tensor([1.0, 0.5, 0.0, 0.8])
    )
    assert assigner.assign(BOXES, GT).labels is None


def test_each_box_goes_to_its_best_gt():
    gts = torch.tensor([[0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0]])
    boxes = torch.tensor(
        [
            [21.0, 21.0, 30.0, 30.0],
            [0.0, 0.0, 10.0, 9.0],
            [50.0, 50.0, 60.0, 60.0],
        ]
    )
    result = MaxIoUAssigner(0.5, 0.4).assign(
        boxes, gts, gt_labels=torch.tensor([7, 3])
    )
    assert result.gt_inds.tolist() == [2, 1, 0]
    assert result.labels.tolist() == [3, 7, -1]


def test_no_gt_makes_everything_negative():
    assigner = MaxIoUAssigner(0.7, 0.3)
    result = assigner.assign(
        BOXES, torch.zeros(0, 4), gt_labels=torch.zeros(0, dtype=torch.long)
    )
    assert result.gt_inds.tolist() == [0, 0, 0, 0]
    assert result.labels.tolist() == [-1, -1, -1, -1]
    assert result.max_overlaps.tolist() == [0, 0, 0, 0]
    assert assigner.assign(BOXES, torch.zeros(0, 4)).labels is None


def test_no_boxes():
    result = MaxIoUAssigner(0.7, 0.3).assign(
        torch.zeros(0, 4), GT, gt_labels=torch.tensor([1])
    )
    assert result.gt_inds.shape == (0,) and result.labels.shape == (0,)


def test_ignored_boxes():
    ignore = torch.tensor([[-1.0, -1.0, 40.0, 40.0]])  # covers every box
    assigner = MaxIoUAssigner(0.7, 0.3, ignore_iof_thr=0.5)
    result = assigner.assign(BOXES, GT, gt_bboxes_ignore=ignore)
    assert result.gt_inds.tolist() == [-1, -1, -1, -1]
    # only the far box lies in this ignore region
    ignore = torch.tensor([[19.0, 19.0, 40.0, 40.0]])
    result = assigner.assign(BOXES, GT, gt_bboxes_ignore=ignore)
    assert result.gt_inds.tolist() == [1, -1, -1, 1]
    # disabled by default
    result = MaxIoUAssigner(0.7, 0.3).assign(
        BOXES, GT, gt_bboxes_ignore=ignore
    )
    assert result.gt_inds.tolist() == [1, -1, 0, 1]


def test_ignore_wrt_ignored_boxes():
    # the small ignore box lies inside box 2: IoF over the candidate is
    # small (4/100), IoF over the ignore box is 1
    ignore = torch.tensor([[21.0, 21.0, 23.0, 23.0]])
    wrt_candidates = MaxIoUAssigner(0.7, 0.3, ignore_iof_thr=0.5)
    assert (
        wrt_candidates.assign(BOXES, GT, gt_bboxes_ignore=ignore).gt_inds[2]
        == 0
    )
    wrt_ignore = MaxIoUAssigner(
        0.7, 0.3, ignore_iof_thr=0.5, ignore_wrt_candidates=False
    )
    assert (
        wrt_ignore.assign(BOXES, GT, gt_bboxes_ignore=ignore).gt_inds[2] == -1
    )


def test_low_quality_match():
    gt = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    boxes = torch.tensor(
        [
            [0.0, 0.0, 10.0, 5.0],  # IoU 0.5 (best)
            [0.0, 0.0, 10.0, 4.0],  # IoU 0.4
            [30.0, 30.0, 40.0, 40.0],
        ]
    )  # IoU 0
    low = MaxIoUAssigner(0.7, 0.3, min_pos_iou=0.3)
    assert low.assign(boxes, gt).gt_inds.tolist() == [1, -1, 0]
    strict = MaxIoUAssigner(0.7, 0.3, min_pos_iou=0.3, match_low_quality=False)
    assert strict.assign(boxes, gt).gt_inds.tolist() == [-1, -1, 0]
    # best IoU below min_pos_iou: no low-quality match
    too_low = MaxIoUAssigner(0.7, 0.3, min_pos_iou=0.6)
    assert too_low.assign(boxes, gt).gt_inds.tolist() == [-1, -1, 0]


def test_ties_at_the_best_iou():
    gt = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    boxes = torch.tensor(
        [[0.0, 0.0, 10.0, 5.0], [0.0, 5.0, 10.0, 10.0], [0.0, 0.0, 10.0, 4.0]]
    )  # IoUs 0.5, 0.5, 0.4
    all_tied = MaxIoUAssigner(0.7, 0.3, gt_max_assign_all=True)
    assert all_tied.assign(boxes, gt).gt_inds.tolist() == [1, 1, -1]
    first = MaxIoUAssigner(0.7, 0.3, gt_max_assign_all=False)
    assert first.assign(boxes, gt).gt_inds.tolist() == [1, -1, -1]


def test_competing_gts_later_one_wins():
    # both gts have this box as their best (IoU 0.5 each): the loop of
    # MMDetection assigns it to gt 0 then overwrites it with gt 1
    gts = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 10.0, 10.0, 20.0]])
    boxes = torch.tensor([[0.0, 5.0, 10.0, 15.0]])
    result = MaxIoUAssigner(0.7, 0.3).assign(boxes, gts)
    assert result.gt_inds.tolist() == [2]


def test_negative_range():
    gt = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    boxes = torch.tensor(
        [
            [0.0, 0.0, 10.0, 2.0],  # IoU 0.2
            [50.0, 50.0, 60.0, 60.0],  # IoU 0
            [0.0, 0.0, 10.0, 6.0],
        ]
    )  # IoU 0.6
    assigner = MaxIoUAssigner(0.7, (0.1, 0.5), match_low_quality=False)
    assert assigner.assign(boxes, gt).gt_inds.tolist() == [0, -1, -1]
    with pytest.raises(TypeError, match='neg_iou_thr'):
        MaxIoUAssigner(0.7, 'low')


def test_cpu_assign_threshold_gives_the_same_result():
    gts = torch.tensor([[0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0]])
    on_cpu = MaxIoUAssigner(0.7, 0.3, gpu_assign_thr=1)
    plain = MaxIoUAssigner(0.7, 0.3)
    labels = torch.tensor([0, 1])
    a = on_cpu.assign(BOXES, gts, gt_labels=labels)
    b = plain.assign(BOXES, gts, gt_labels=labels)
    assert a.gt_inds.tolist() == b.gt_inds.tolist()
    assert a.labels.tolist() == b.labels.tolist()


def test_assign_result_helpers():
    result = AssignResult(
        2,
        torch.tensor([0, 2, -1]),
        torch.tensor([0.1, 0.9, 0.4]),
        labels=torch.tensor([-1, 5, -1]),
    )
    result.add_gt_(torch.tensor([3, 5]))
    assert result.gt_inds.tolist() == [1, 2, 0, 2, -1]
    assert result.max_overlaps.tolist()[:2] == [1.0, 1.0]
    assert result.labels.tolist() == [3, 5, -1, 5, -1]
    assert result.num_preds == 5
    result.set_extra_property('extra', 7)
    assert result.get_extra_property('extra') == 7
    assert result.info['extra'] == 7 and result.info['num_gts'] == 2
    with pytest.raises(KeyError):
        result.set_extra_property('gt_inds', 1)
    assert 'num_gts=2' in repr(result)


def make_assignment(num_pos, num_neg, num_ignore=0):
    """An AssignResult with the positives first (all on gt 1), then the
    negatives, then ignored boxes."""
    gt_inds = torch.cat(
        [
            torch.ones(num_pos, dtype=torch.long),
            torch.zeros(num_neg, dtype=torch.long),
            torch.full((num_ignore,), -1, dtype=torch.long),
        ]
    )
    labels = torch.where(gt_inds > 0, torch.tensor(2), torch.tensor(-1))
    n = gt_inds.numel()
    return AssignResult(1, gt_inds, torch.rand(n), labels=labels), torch.rand(
        n, 4
    ) * 10 + torch.tensor([0.0, 0.0, 10.0, 10.0])


def test_random_sampler_fractions():
    torch.manual_seed(0)
    sampler = RandomSampler(
        num=10, pos_fraction=0.5, add_gt_as_proposals=False
    )
    assign, boxes = make_assignment(20, 30, 5)
    res = sampler.sample(assign, boxes, GT, torch.tensor([2]))
    assert len(res.pos_inds) == 5 and len(res.neg_inds) == 5
    assert (res.pos_inds < 20).all()
    assert ((res.neg_inds >= 20) & (res.neg_inds < 50)).all()
    assert len(set(res.pos_inds.tolist())) == 5
    # few positives: the negatives fill the batch
    assign, boxes = make_assignment(2, 30)
    res = sampler.sample(assign, boxes, GT, torch.tensor([2]))
    assert len(res.pos_inds) == 2 and len(res.neg_inds) == 8
    # fewer boxes than the batch: take all
    assign, boxes = make_assignment(1, 3, 4)
    res = sampler.sample(assign, boxes, GT, torch.tensor([2]))
    assert res.pos_inds.tolist() == [0] and res.neg_inds.tolist() == [1, 2, 3]


def test_add_gt_as_proposals():
    torch.manual_seed(0)
    sampler = RandomSampler(num=8, pos_fraction=0.25)
    assign, boxes = make_assignment(0, 20)
    res = sampler.sample(assign, boxes, GT, torch.tensor([2]))
    # the gt box itself is the only positive, at index 0
    assert res.pos_inds.tolist() == [0]
    assert res.pos_is_gt.tolist() == [1]
    torch.testing.assert_close(res.pos_bboxes, GT)
    torch.testing.assert_close(res.pos_gt_bboxes, GT)
    assert res.pos_gt_labels.tolist() == [2]
    assert len(res.neg_inds) == 7 and (res.neg_inds >= 1).all()
    assert res.bboxes.shape == (8, 4)
    with pytest.raises(ValueError, match='gt_labels'):
        sampler.sample(*make_assignment(1, 3), GT)


def test_neg_pos_upper_bound():
    torch.manual_seed(0)
    sampler = RandomSampler(
        num=20, pos_fraction=0.5, neg_pos_ub=2, add_gt_as_proposals=False
    )
    res = sampler.sample(*make_assignment(3, 30), GT)
    assert len(res.pos_inds) == 3 and len(res.neg_inds) == 6
    # no positive counts as one
    res = sampler.sample(*make_assignment(0, 30), GT)
    assert len(res.pos_inds) == 0 and len(res.neg_inds) == 2


def test_sampling_result_targets():
    gts = torch.tensor([[0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0]])
    assign = AssignResult(
        2,
        torch.tensor([2, 0, 1, -1]),
        torch.rand(4),
        labels=torch.tensor([6, -1, 4, -1]),
    )
    boxes = torch.rand(4, 4)
    res = PseudoSampler().sample(assign, boxes, gts)
    assert isinstance(res, SamplingResult)
    assert res.pos_inds.tolist() == [0, 2] and res.neg_inds.tolist() == [1]
    assert res.pos_assigned_gt_inds.tolist() == [1, 0]
    torch.testing.assert_close(res.pos_gt_bboxes, gts[[1, 0]])
    assert res.pos_gt_labels.tolist() == [6, 4]
    assert res.pos_is_gt.tolist() == [0, 0]
    torch.testing.assert_close(res.bboxes, boxes[[0, 2, 1]])
    assert res.num_gts == 2
    assert res.to('cpu') is res and 'pos=2' in repr(res)


def test_sampling_without_gts():
    assign = MaxIoUAssigner(0.7, 0.3).assign(BOXES, torch.zeros(0, 4))
    res = RandomSampler(4, 0.5).sample(
        assign, BOXES, torch.zeros(0, 4), torch.zeros(0, dtype=torch.long)
    )
    assert len(res.pos_inds) == 0 and len(res.neg_inds) == 4
    assert res.pos_gt_bboxes.shape == (0, 4)


def test_build_from_config():
    assigner = build_assigner(
        dict(
            type='MaxIoUAssigner',
            pos_iou_thr=0.5,
            neg_iou_thr=0.5,
            min_pos_iou=0.5,
            match_low_quality=False,
            ignore_iof_thr=-1,
        )
    )
    assert isinstance(assigner, MaxIoUAssigner)
    sampler = build_sampler(
        dict(
            type='RandomSampler',
            num=512,
            pos_fraction=0.25,
            neg_pos_ub=-1,
            add_gt_as_proposals=True,
        ),
        context=object(),
    )
    assert isinstance(sampler, RandomSampler) and sampler.num == 512
    assert isinstance(
        build_sampler(dict(type='PseudoSampler'), context=None), PseudoSampler
    )
    with pytest.raises(KeyError, match='RandomSampler'):
        build_sampler(dict(type='RandomSamplr', num=1, pos_fraction=1))
