"""PISA (isr_p, carl_loss, ScoreHLRSampler, PISARoIHead, PISARetinaHead)
against numbers MMDetection 2.28.2 computed with the same weights and
inputs (4 decimals). mmcv's compiled nms_match was replaced there by a
plain transcription of its C++ loop."""

import os.path as osp
import types

import numpy as np
import pytest
import torch
from mmcv import Config

from mmdet.core import build_assigner, build_bbox_coder, nms_match
from mmdet.models import build_head, build_loss
from mmdet.models.losses import carl_loss, isr_p

REF = np.load(osp.join(osp.dirname(__file__), '..', 'data', 'mm228_pisa.npz'))
C = 3
LABELS = torch.tensor([0, 2, 0, 1, 0, 3, 3, 2, 2, 0, 3, 3])


def close(got, key, tol=1e-4):
    np.testing.assert_allclose(
        np.asarray(got.detach()), REF[key], rtol=tol, atol=tol
    )


def ref(key):
    return torch.from_numpy(REF[key])


def _load(head, name):
    prefix = f'{name}/sd/'
    head.load_state_dict(
        {k[len(prefix) :]: ref(k) for k in REF.files if k.startswith(prefix)},
        strict=True,
    )
    return head


def test_isr_p_matches_mmdet():
    coder = build_bbox_coder(
        dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[0.0] * 4,
            target_stds=[0.1, 0.1, 0.2, 0.2],
        )
    )
    ce = build_loss(dict(type='CrossEntropyLoss', use_sigmoid=False))
    pos_gt = [torch.tensor([0, 1, 0, 2, 1]), torch.tensor([0, 1, 1])]
    results = [types.SimpleNamespace(pos_assigned_gt_inds=t) for t in pos_gt]
    bbox_weights = torch.zeros(12, 4)
    bbox_weights[LABELS < C] = 1
    out = isr_p(
        ref('isr/cls_score'),
        ref('isr/bbox_pred'),
        (LABELS, torch.ones(12), ref('isr/bbox_targets'), bbox_weights),
        ref('isr/rois'),
        results,
        ce,
        coder,
        k=2,
        bias=0,
        num_class=C,
    )
    close(out[1], 'isr/label_weights')
    # negatives keep weight 1
    assert (out[1][LABELS == C] == 1).all()


def test_carl_loss_matches_mmdet():
    sl1 = build_loss(dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0))
    scores = ref('isr/cls_score').clone().requires_grad_(True)
    loss = carl_loss(
        scores,
        LABELS,
        ref('isr/bbox_pred'),
        ref('isr/bbox_targets'),
        sl1,
        k=1,
        bias=0.2,
        num_class=C,
    )['loss_carl']
    loss.backward()
    close(loss, 'carl/loss')
    close(scores.grad, 'carl/grad')
    sig = carl_loss(
        ref('isr/cls_score')[:, :C],
        LABELS,
        ref('isr/bbox_pred')[:, :4],
        ref('isr/bbox_targets'),
        sl1,
        k=2,
        bias=0.1,
        avg_factor=5,
        sigmoid=True,
        num_class=C,
    )['loss_carl']
    close(sig, 'carl_sig/loss')


def test_nms_match_groups():
    dets = torch.tensor(
        [
            [0.0, 0.0, 10.0, 10.0, 0.9],
            [1.0, 0.0, 11.0, 10.0, 0.8],
            [20.0, 20.0, 30.0, 30.0, 0.95],
            [0.0, 0.0, 10.0, 5.0, 0.7],
            [21.0, 21.0, 30.0, 30.0, 0.5],
        ]
    )
    groups = [g.tolist() for g in nms_match(dets, 0.5)]
    # IoU(0, 1) = 90 / 110, IoU(0, 3) = 0.5 (>= counts), IoU(2, 4) = 0.81
    assert groups == [[2, 4], [0, 1, 3]]
    assert nms_match(dets[:0], 0.5) == []


roi_cfg = dict(
    type='PISARoIHead',
    bbox_roi_extractor=dict(
        type='SingleRoIExtractor',
        roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=2),
        out_channels=8,
        featmap_strides=[4, 8],
    ),
    bbox_head=dict(
        type='Shared2FCBBoxHead',
        in_channels=8,
        fc_out_channels=16,
        roi_feat_size=7,
        num_classes=3,
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[0.0] * 4,
            target_stds=[0.1, 0.1, 0.2, 0.2],
        ),
        reg_class_agnostic=False,
        loss_cls=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0
        ),
        loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0),
    ),
    train_cfg=dict(
        assigner=dict(
            type='MaxIoUAssigner',
            pos_iou_thr=0.5,
            neg_iou_thr=0.5,
            min_pos_iou=0.5,
            match_low_quality=False,
            ignore_iof_thr=-1,
        ),
        sampler=dict(
            type='ScoreHLRSampler',
            num=24,
            pos_fraction=0.5,
            neg_pos_ub=-1,
            add_gt_as_proposals=True,
            k=0.5,
            bias=0.0,
            score_thr=0.0,
            iou_thr=0.5,
        ),
        isr=dict(k=2, bias=0),
        carl=dict(k=1, bias=0.2),
        pos_weight=-1,
        debug=False,
    ),
    test_cfg=dict(
        score_thr=0.05,
        nms=dict(type='nms', iou_threshold=0.5),
        max_per_img=100,
    ),
)


ret_cfg = dict(
    type='PISARetinaHead',
    num_classes=3,
    in_channels=8,
    stacked_convs=1,
    feat_channels=8,
    anchor_generator=dict(
        type='AnchorGenerator',
        octave_base_scale=4,
        scales_per_octave=3,
        ratios=[0.5, 1.0, 2.0],
        strides=[8, 16, 32, 64, 128],
    ),
    bbox_coder=dict(
        type='DeltaXYWHBBoxCoder',
        target_means=[0.0] * 4,
        target_stds=[1.0] * 4,
    ),
    loss_cls=dict(
        type='FocalLoss',
        use_sigmoid=True,
        gamma=2.0,
        alpha=0.25,
        loss_weight=1.0,
    ),
    loss_bbox=dict(type='SmoothL1Loss', beta=0.11, loss_weight=1.0),
    train_cfg=dict(
        assigner=dict(
            type='MaxIoUAssigner',
            pos_iou_thr=0.5,
            neg_iou_thr=0.4,
            min_pos_iou=0,
            ignore_iof_thr=-1,
        ),
        allowed_border=-1,
        pos_weight=-1,
        debug=False,
        isr=dict(k=2.0, bias=0.0),
        carl=dict(k=1.0, bias=0.2),
    ),
    test_cfg=dict(
        nms_pre=1000,
        min_bbox_size=0,
        score_thr=0.05,
        nms=dict(type='nms', iou_threshold=0.5),
        max_per_img=100,
    ),
)


def _roi_inputs():
    head = _load(build_head(Config(dict(c=roi_cfg)).c), 'pisa_roi')
    feats = [ref('pisa_roi/feat0'), ref('pisa_roi/feat1')]
    props = [ref('pisa_roi/props0'), ref('pisa_roi/props1')]
    gtb = [
        torch.tensor([[8.0, 12.0, 80.0, 60.0], [40.0, 20.0, 120.0, 116.0]]),
        torch.tensor([[20.0, 24.0, 60.0, 56.0]]),
    ]
    gtl = [torch.tensor([0, 2]), torch.tensor([1])]
    return head, feats, props, gtb, gtl


def test_score_hlr_sampler_matches_mmdet():
    head, feats, props, gtb, gtl = _roi_inputs()
    assigner = build_assigner(roi_cfg['train_cfg']['assigner'])
    assign = assigner.assign(props[0], gtb[0], None, gtl[0])
    res, weights = head.bbox_sampler.sample(
        assign, props[0], gtb[0], gtl[0], feats=[f[:1] for f in feats]
    )
    np.testing.assert_array_equal(
        np.sort(res.pos_inds.numpy()), np.sort(REF['hlr/pos_inds'])
    )
    np.testing.assert_array_equal(res.neg_inds.numpy(), REF['hlr/neg_inds'])
    close(weights, 'hlr/weights')


def test_pisa_roi_head_losses_match_mmdet():
    head, feats, props, gtb, gtl = _roi_inputs()
    metas = [
        dict(
            img_shape=(128, 128, 3),
            pad_shape=(128, 128, 3),
            scale_factor=np.ones(4, dtype=np.float32),
        )
    ] * 2
    losses = head.forward_train(feats, metas, props, gtb, gtl)
    for key in ('loss_cls', 'acc', 'loss_bbox', 'loss_carl'):
        close(losses[key].reshape(()), f'pisa_roi/loss/{key}')


def test_pisa_retina_head_losses_match_mmdet():
    head = _load(build_head(Config(dict(c=ret_cfg)).c), 'pisa_retina')
    feats = [ref(f'pisa_retina/feat{i}') for i in range(5)]
    gtb = [
        torch.tensor(
            [
                [8.0, 12.0, 80.0, 60.0],
                [40.0, 20.0, 120.0, 116.0],
                [30.0, 30.0, 46.0, 44.0],
            ]
        ),
        torch.tensor([[20.0, 24.0, 60.0, 56.0]]),
    ]
    gtl = [torch.tensor([0, 2, 1]), torch.tensor([1])]
    metas = [
        dict(
            img_shape=(120, 128, 3),
            pad_shape=(128, 128, 3),
            scale_factor=np.ones(4, dtype=np.float32),
        )
    ] * 2
    losses = head.loss(*head(feats), gtb, gtl, metas)
    for key in ('loss_cls', 'loss_bbox', 'loss_carl'):
        close(losses[key].reshape(()), f'pisa_retina/loss/{key}')


@pytest.mark.parametrize('bad', [dict(isr=dict(k=2), unknown=1)])
def test_pisa_roi_head_rejects_unknown_train_keys(bad):
    cfg = Config(dict(c=roi_cfg)).c
    cfg.train_cfg.update(bad)
    with pytest.raises(Exception, match='unknown'):
        build_head(cfg)
