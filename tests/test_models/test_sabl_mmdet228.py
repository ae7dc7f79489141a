"""SABL (BucketingBBoxCoder, SABLHead, SABLRetinaHead) against numbers
MMDetection 2.28.2 computed: coder targets and decoded boxes, losses and
detections of seeded heads given the same weights and inputs (4
decimals)."""

import os.path as osp

import numpy as np
import pytest
import torch
from mmcv import Config

from mmdet.core import build_bbox_coder
from mmdet.models import build_head

REF = np.load(osp.join(osp.dirname(__file__), '..', 'data', 'mm228_sabl.npz'))
PROPS = torch.tensor(
    [
        [10.0, 20.0, 50.0, 60.0],
        [0.0, 0.0, 30.0, 15.0],
        [40.0, 30.0, 90.0, 100.0],
        [5.0, 5.0, 12.0, 40.0],
    ]
)
GTS = torch.tensor(
    [
        [12.0, 18.0, 55.0, 58.0],
        [3.0, 2.0, 25.0, 20.0],
        [35.0, 40.0, 80.0, 96.0],
        [6.0, 3.0, 14.0, 42.0],
    ]
)
PARTS = ['offsets', 'offset_weights', 'labels', 'label_weights']


def close(got, key, tol=1e-4):
    np.testing.assert_allclose(
        got.detach().numpy(), REF[key], rtol=tol, atol=tol
    )


def _load(head, name):
    prefix = f'{name}/sd/'
    head.load_state_dict(
        {
            k[len(prefix) :]: torch.from_numpy(REF[k])
            for k in REF.files
            if k.startswith(prefix)
        },
        strict=True,
    )
    return head


@pytest.mark.parametrize(
    'name,cfg',
    [
        ('coder', dict(num_buckets=14, scale_factor=1.7)),
        (
            'coder13',
            dict(
                num_buckets=13,
                scale_factor=3.0,
                offset_topk=3,
                offset_upperbound=2.0,
                cls_ignore_neighbor=False,
            ),
        ),
    ],
)
def test_bucketing_coder_matches_mmdet(name, cfg):
    coder = build_bbox_coder(dict(type='BucketingBBoxCoder', **cfg))
    for part, got in zip(PARTS, coder.encode(PROPS, GTS)):
        close(got, f'{name}/{part}')
    preds = (
        torch.from_numpy(REF['coder/cls_pred']),
        torch.from_numpy(REF['coder/off_pred']),
    )
    shape = (64, 80) if name == 'coder' else None
    boxes, conf = coder.decode(PROPS, preds, max_shape=shape)
    close(boxes, f'{name}/boxes')
    close(conf, f'{name}/conf')


def test_bucketing_coder_round_trip():
    """Decoding the encoded targets with confident bucket logits gives
    the gt boxes back."""
    coder = build_bbox_coder(
        dict(type='BucketingBBoxCoder', num_buckets=14, scale_factor=1.7)
    )
    offsets, _, labels, _ = coder.encode(PROPS, GTS)
    boxes, conf = coder.decode(PROPS, (labels * 50.0, offsets))
    torch.testing.assert_close(boxes, GTS, rtol=0, atol=1e-4)
    assert torch.allclose(conf, torch.ones(4))


roi = dict(
    type='SABLHead',
    num_classes=3,
    cls_in_channels=8,
    reg_in_channels=8,
    roi_feat_size=7,
    reg_feat_up_ratio=2,
    reg_pre_kernel=3,
    reg_post_kernel=3,
    reg_pre_num=2,
    reg_post_num=1,
    cls_out_channels=16,
    reg_offset_out_channels=8,
    reg_cls_out_channels=8,
    num_cls_fcs=1,
    num_reg_fcs=0,
    reg_class_agnostic=True,
    norm_cfg=None,
    bbox_coder=dict(
        type='BucketingBBoxCoder', num_buckets=14, scale_factor=1.7
    ),
    loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
    loss_bbox_cls=dict(
        type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0
    ),
    loss_bbox_reg=dict(type='SmoothL1Loss', beta=0.1, loss_weight=1.0),
)


ret = dict(
    type='SABLRetinaHead',
    num_classes=3,
    in_channels=8,
    stacked_convs=1,
    feat_channels=8,
    approx_anchor_generator=dict(
        type='AnchorGenerator',
        octave_base_scale=4,
        scales_per_octave=3,
        ratios=[0.5, 1.0, 2.0],
        strides=[8, 16, 32, 64, 128],
    ),
    square_anchor_generator=dict(
        type='AnchorGenerator',
        ratios=[1.0],
        scales=[4],
        strides=[8, 16, 32, 64, 128],
    ),
    bbox_coder=dict(
        type='BucketingBBoxCoder', num_buckets=14, scale_factor=3.0
    ),
    loss_cls=dict(
        type='FocalLoss',
        use_sigmoid=True,
        gamma=2.0,
        alpha=0.25,
        loss_weight=1.0,
    ),
    loss_bbox_cls=dict(
        type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.5
    ),
    loss_bbox_reg=dict(type='SmoothL1Loss', beta=1.0 / 9.0, loss_weight=1.5),
    train_cfg=dict(
        assigner=dict(
            type='ApproxMaxIoUAssigner',
            pos_iou_thr=0.5,
            neg_iou_thr=0.4,
            min_pos_iou=0.0,
            ignore_iof_thr=-1,
        ),
        allowed_border=-1,
        pos_weight=-1,
        debug=False,
    ),
    test_cfg=dict(
        nms_pre=1000,
        min_bbox_size=0,
        score_thr=0.05,
        nms=dict(type='nms', iou_threshold=0.5),
        max_per_img=100,
    ),
)


def test_sabl_roi_head_matches_mmdet():
    head = _load(build_head(Config(dict(c=roi)).c), 'sabl_roi')
    x = torch.from_numpy(REF['sabl_roi/x'])
    batch = torch.tensor([[0.0], [0.0], [0.0], [1.0], [1.0], [1.0]])
    rois = torch.cat([batch, torch.cat([PROPS, PROPS[:2] + 3])], 1)
    cls_score, bbox_pred = head(x)
    t = head.bucket_target(
        [PROPS[:2], PROPS[3:4]],
        [PROPS[2:3], PROPS[:2] + 3],
        [GTS[:2], GTS[3:4]],
        [torch.tensor([0, 2]), torch.tensor([1])],
        None,
    )
    losses = head.loss(
        cls_score, bbox_pred, rois, t[0], t[1], (t[2], t[4]), (t[3], t[5])
    )
    for key in ('loss_cls', 'acc', 'loss_bbox_cls', 'loss_bbox_reg'):
        close(losses[key], f'sabl_roi/loss/{key}')
    head.eval()
    nms_cfg = dict(
        score_thr=0.05,
        nms=dict(type='nms', iou_threshold=0.5),
        max_per_img=100,
    )
    with torch.no_grad():
        cls_score, bbox_pred = head(x)
        dets, labels = head.get_bboxes(
            rois,
            cls_score,
            bbox_pred,
            (64, 80, 3),
            np.array([2.0, 2.0, 2.0, 2.0], dtype=np.float32),
            rescale=True,
            cfg=nms_cfg,
        )
        refined = head.regress_by_class(
            rois, labels[:0], bbox_pred, dict(img_shape=(64, 80, 3))
        )
    close(dets, 'sabl_roi/dets')
    np.testing.assert_array_equal(labels.numpy(), REF['sabl_roi/labels'])
    close(refined, 'sabl_roi/refined')


def _retina_inputs():
    head = _load(build_head(Config(dict(c=ret)).c), 'sabl_retina')
    feats = [torch.from_numpy(REF[f'sabl_retina/feat{i}']) for i in range(5)]
    metas = [
        dict(
            img_shape=(120, 128, 3),
            pad_shape=(128, 128, 3),
            scale_factor=np.array([2.0, 2.0, 2.0, 2.0], dtype=np.float32),
        )
        for _ in range(2)
    ]
    return head, feats, metas


def test_sabl_retina_head_losses_match_mmdet():
    head, feats, metas = _retina_inputs()
    gts = [
        torch.tensor(
            [
                [8.0, 12.0, 80.0, 60.0],
                [40.0, 20.0, 120.0, 116.0],
                [30.0, 30.0, 46.0, 44.0],
            ]
        ),
        torch.tensor([[20.0, 24.0, 60.0, 56.0]]),
    ]
    labels = [torch.tensor([0, 2, 1]), torch.tensor([1])]
    losses = head.loss(*head(feats), gts, labels, metas)
    for key in ('loss_cls', 'loss_bbox_cls', 'loss_bbox_reg'):
        got = torch.stack([v.detach() for v in losses[key]])
        close(got, f'sabl_retina/loss/{key}')


def test_sabl_retina_head_detections_match_mmdet():
    head, feats, metas = _retina_inputs()
    head.eval()
    with torch.no_grad():
        outs = head([f[:1] for f in feats])
        dets, labels = head.get_bboxes(
            *outs, img_metas=metas[:1], rescale=True
        )[0]
    close(dets, 'sabl_retina/dets')
    np.testing.assert_array_equal(labels.numpy(), REF['sabl_retina/labels'])
