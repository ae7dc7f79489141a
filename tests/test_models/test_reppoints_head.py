"""RepPointsHead against MMDetection 2.28.2: losses and detections of a
tiny head with fixed weights (tests/data/reference/dense_points)."""

import json
from pathlib import Path

import pytest
import torch
from dense_points_fill import assert_same_dets, feat, fill_

from mmdet.models import build_detector, build_head
from mmdet.utils.arg_errors import InvalidArgumentError

REF = json.loads(
    (
        Path(__file__).parents[1]
        / 'data/reference/dense_points/reppoints_head_mmdet228.json'
    ).read_text()
)
MAXIOU = dict(
    type='MaxIoUAssigner',
    pos_iou_thr=0.5,
    neg_iou_thr=0.4,
    min_pos_iou=0,
    ignore_iof_thr=-1,
)
TEST_CFG = dict(
    nms_pre=50,
    min_bbox_size=0,
    score_thr=0.05,
    nms=dict(type='nms', iou_threshold=0.5),
    max_per_img=20,
)
IMG_METAS = [
    dict(img_shape=(64, 64, 3), pad_shape=(64, 64, 3), scale_factor=[1.0] * 4)
] * 2
GT_BBOXES = [
    torch.tensor([[4.0, 6.0, 30.0, 40.0], [20.0, 10.0, 60.0, 50.0]]),
    torch.tensor([[10.0, 12.0, 26.0, 22.0]]),
]
GT_LABELS = [torch.tensor([0, 2]), torch.tensor([1])]


def make_head(init_assigner, **kw):
    stage = dict(allowed_border=-1, pos_weight=-1, debug=False)
    train_cfg = dict(
        init=dict(assigner=init_assigner, **stage),
        refine=dict(assigner=MAXIOU, **stage),
    )
    head = build_head(
        dict(
            type='RepPointsHead',
            num_classes=3,
            in_channels=8,
            feat_channels=8,
            point_feat_channels=8,
            stacked_convs=1,
            point_strides=[8, 16],
            train_cfg=train_cfg,
            test_cfg=TEST_CFG,
            **kw,
        )
    )
    fill_(head)
    return head


def feats():
    return [feat((2, 8, 8, 8), 0), feat((2, 8, 4, 4), 1)]


@pytest.mark.parametrize('variant', sorted(REF))
def test_loss_matches_mmdet(variant):
    ref = REF[variant]
    head = make_head(ref['init_assigner'], **ref['kw']).train()
    losses = head.loss(*head(feats()), GT_BBOXES, GT_LABELS, IMG_METAS)
    assert sorted(losses) == sorted(ref['losses'])
    for name, per_level in ref['losses'].items():
        ours = [round(v.item(), 4) for v in losses[name]]
        assert ours == pytest.approx([v[0] for v in per_level], abs=2e-4)


@pytest.mark.parametrize('variant', sorted(REF))
def test_get_bboxes_matches_mmdet(variant):
    ref = REF[variant]
    head = make_head(ref['init_assigner'], **ref['kw']).eval()
    with torch.no_grad():
        cls_scores, boxes = head(feats())
        results = head.get_bboxes(cls_scores, boxes, img_metas=IMG_METAS)
    ours = boxes[1][0, :, :2, :2].flatten()
    assert ours.tolist() == pytest.approx(ref['box_pred_l1'], abs=1e-4)
    for result, ref_dets in zip(results, ref['dets']):
        assert_same_dets(result, ref_dets['bboxes'], ref_dets['labels'])


def test_moment_box_is_mean_plus_minus_std():
    head = make_head(MAXIOU, transform_method='moment')
    with torch.no_grad():
        head.moment_transfer.copy_(torch.tensor([0.2, -0.1]))
    pts = torch.randn(3, 18, dtype=torch.float64)
    box = head.points2bbox(pts.float(), y_first=False).double()
    xs, ys = pts[:, 0::2], pts[:, 1::2]
    half_w = xs.std(1) * torch.exp(torch.tensor(0.2, dtype=torch.float64))
    half_h = ys.std(1) * torch.exp(torch.tensor(-0.1, dtype=torch.float64))
    want = torch.stack(
        [
            xs.mean(1) - half_w,
            ys.mean(1) - half_h,
            xs.mean(1) + half_w,
            ys.mean(1) + half_h,
        ],
        1,
    )
    assert torch.allclose(box, want, atol=1e-5)


def test_bad_arguments():
    with pytest.raises(InvalidArgumentError):
        make_head(MAXIOU, num_points=4)
    with pytest.raises(InvalidArgumentError):
        make_head(MAXIOU, transform_method='mean')


def test_detector_trains_and_tests():
    head = dict(
        type='RepPointsHead',
        num_classes=3,
        in_channels=8,
        feat_channels=8,
        point_feat_channels=8,
        stacked_convs=1,
        point_strides=[8, 16],
    )
    stage = dict(allowed_border=-1, pos_weight=-1, debug=False)
    model = build_detector(
        dict(
            type='RepPointsDetector',
            backbone=dict(
                type='ResNet',
                depth=18,
                num_stages=2,
                strides=(1, 2),
                dilations=(1, 1),
                out_indices=(0, 1),
            ),
            neck=dict(
                type='FPN', in_channels=[64, 128], out_channels=8, num_outs=2
            ),
            bbox_head=head,
            train_cfg=dict(
                init=dict(
                    assigner=dict(type='PointAssigner', scale=4, pos_num=1),
                    **stage,
                ),
                refine=dict(assigner=MAXIOU, **stage),
            ),
            test_cfg=TEST_CFG,
        )
    )
    img = torch.rand(2, 3, 64, 64)
    metas = [dict(m, ori_shape=(64, 64, 3), flip=False) for m in IMG_METAS]
    losses = model.forward_train(img, metas, GT_BBOXES, GT_LABELS)
    total = sum(sum(v) for v in losses.values())
    total.backward()
    assert model.bbox_head.moment_transfer.grad is not None
    model.eval()
    with torch.no_grad():
        results = model.simple_test(img, metas)
    assert len(results) == 2 and len(results[0]) == 3
