"""Guided anchoring (GARetinaHead, GARPNHead, MaskedConv2d) against numbers
MMDetection 2.28.2 computed: the same weights and inputs, losses of every
level and the test-time detections (4 decimals)."""

import os.path as osp

import numpy as np
import pytest
import torch
from mmcv import Config

from mmdet.models import build_head
from mmdet.models.utils import MaskedConv2d

REF = np.load(
    osp.join(osp.dirname(__file__), '..', 'data', 'mm228_ga_heads.npz')
)

retina = dict(
    type='GARetinaHead',
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
    anchor_coder=dict(
        type='DeltaXYWHBBoxCoder',
        target_means=[0.0] * 4,
        target_stds=[1.0] * 4,
    ),
    bbox_coder=dict(
        type='DeltaXYWHBBoxCoder',
        target_means=[0.0] * 4,
        target_stds=[1.0] * 4,
    ),
    loc_filter_thr=0.01,
    loss_loc=dict(
        type='FocalLoss',
        use_sigmoid=True,
        gamma=2.0,
        alpha=0.25,
        loss_weight=1.0,
    ),
    loss_shape=dict(type='BoundedIoULoss', beta=0.2, loss_weight=1.0),
    loss_cls=dict(
        type='FocalLoss',
        use_sigmoid=True,
        gamma=2.0,
        alpha=0.25,
        loss_weight=1.0,
    ),
    loss_bbox=dict(type='SmoothL1Loss', beta=0.04, loss_weight=1.0),
    train_cfg=dict(
        assigner=dict(
            type='MaxIoUAssigner',
            pos_iou_thr=0.5,
            neg_iou_thr=0.5,
            min_pos_iou=0.0,
            ignore_iof_thr=-1,
        ),
        ga_assigner=dict(
            type='ApproxMaxIoUAssigner',
            pos_iou_thr=0.5,
            neg_iou_thr=0.4,
            min_pos_iou=0.4,
            ignore_iof_thr=-1,
        ),
        ga_sampler=dict(
            type='RandomSampler',
            num=512,
            pos_fraction=0.5,
            neg_pos_ub=-1,
            add_gt_as_proposals=False,
        ),
        allowed_border=-1,
        pos_weight=-1,
        center_ratio=0.2,
        ignore_ratio=0.5,
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

rpn = dict(
    type='GARPNHead',
    in_channels=8,
    feat_channels=8,
    approx_anchor_generator=dict(
        type='AnchorGenerator',
        octave_base_scale=8,
        scales_per_octave=3,
        ratios=[0.5, 1.0, 2.0],
        strides=[4, 8, 16, 32, 64],
    ),
    square_anchor_generator=dict(
        type='AnchorGenerator',
        ratios=[1.0],
        scales=[8],
        strides=[4, 8, 16, 32, 64],
    ),
    anchor_coder=dict(
        type='DeltaXYWHBBoxCoder',
        target_means=[0.0] * 4,
        target_stds=[0.07, 0.07, 0.14, 0.14],
    ),
    bbox_coder=dict(
        type='DeltaXYWHBBoxCoder',
        target_means=[0.0] * 4,
        target_stds=[0.07, 0.07, 0.11, 0.11],
    ),
    loc_filter_thr=0.01,
    loss_loc=dict(
        type='FocalLoss',
        use_sigmoid=True,
        gamma=2.0,
        alpha=0.25,
        loss_weight=1.0,
    ),
    loss_shape=dict(type='BoundedIoULoss', beta=0.2, loss_weight=1.0),
    loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
    loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0),
    train_cfg=dict(
        assigner=dict(
            type='MaxIoUAssigner',
            pos_iou_thr=0.7,
            neg_iou_thr=0.3,
            min_pos_iou=0.3,
            ignore_iof_thr=-1,
        ),
        sampler=dict(
            type='RandomSampler',
            num=4096,
            pos_fraction=0.5,
            neg_pos_ub=-1,
            add_gt_as_proposals=False,
        ),
        ga_assigner=dict(
            type='ApproxMaxIoUAssigner',
            pos_iou_thr=0.7,
            neg_iou_thr=0.3,
            min_pos_iou=0.3,
            ignore_iof_thr=-1,
        ),
        ga_sampler=dict(
            type='RandomSampler',
            num=4096,
            pos_fraction=0.5,
            neg_pos_ub=-1,
            add_gt_as_proposals=False,
        ),
        allowed_border=-1,
        pos_weight=-1,
        center_ratio=0.2,
        ignore_ratio=0.5,
        debug=False,
    ),
    test_cfg=dict(
        nms_pre=50,
        nms_post=20,
        max_per_img=10,
        min_bbox_size=0,
        nms=dict(type='nms', iou_threshold=0.7),
    ),
)


def _metas(num):
    return [
        dict(
            img_shape=(120, 128, 3),
            pad_shape=(128, 128, 3),
            scale_factor=np.array([2.0, 2.0, 2.0, 2.0], dtype=np.float32),
        )
        for _ in range(num)
    ]


GTS = [
    torch.tensor(
        [
            [8.0, 12.0, 80.0, 60.0],
            [40.0, 20.0, 120.0, 116.0],
            [30.0, 30.0, 46.0, 44.0],
        ]
    ),
    torch.tensor([[20.0, 24.0, 60.0, 56.0]]),
]
LABELS = [torch.tensor([0, 2, 1]), torch.tensor([1])]


def _head(name, cfg):
    head = build_head(Config(dict(cfg=cfg)).cfg)
    prefix = f'{name}/sd/'
    state = {
        k[len(prefix) :]: torch.from_numpy(REF[k])
        for k in REF.files
        if k.startswith(prefix)
    }
    head.load_state_dict(state, strict=True)
    feats = [torch.from_numpy(REF[f'{name}/feat{i}']) for i in range(5)]
    return head, feats


@pytest.mark.parametrize(
    'name,cfg,with_labels',
    [('ga_retina', retina, True), ('ga_rpn', rpn, False)],
)
def test_ga_head_losses_match_mmdet(name, cfg, with_labels):
    head, feats = _head(name, cfg)
    head.train()
    outs = head(feats)
    args = (GTS, LABELS) if with_labels else (GTS,)
    losses = head.loss(*outs, *args, _metas(2))
    keys = [k for k in REF.files if k.startswith(f'{name}/loss/')]
    assert sorted(losses) == sorted(k.split('/')[-1] for k in keys)
    for key in keys:
        got = [float(v.detach()) for v in losses[key.split('/')[-1]]]
        np.testing.assert_allclose(got, REF[key], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('name,cfg', [('ga_retina', retina), ('ga_rpn', rpn)])
def test_ga_head_detections_match_mmdet(name, cfg):
    head, feats = _head(name, cfg)
    head.eval()
    with torch.no_grad():
        outs = head([f[:1] for f in feats])
        res = head.get_bboxes(*outs, img_metas=_metas(1), rescale=True)[0]
    dets = res[0] if isinstance(res, tuple) else res
    np.testing.assert_allclose(
        dets.numpy(), REF[f'{name}/dets'], rtol=1e-4, atol=1e-4
    )
    if isinstance(res, tuple):
        np.testing.assert_array_equal(res[1].numpy(), REF[f'{name}/labels'])


def test_masked_conv_matches_mmcv():
    conv = MaskedConv2d(3, 4, 3, padding=1)
    conv.load_state_dict(
        dict(
            weight=torch.from_numpy(REF['masked/weight']),
            bias=torch.from_numpy(REF['masked/bias']),
        )
    )
    x = torch.from_numpy(REF['masked/x'])
    mask = torch.from_numpy(REF['masked/mask'])
    out = conv(x, mask)
    np.testing.assert_allclose(
        out.detach().numpy(), REF['masked/out'], rtol=1e-5, atol=1e-5
    )
    # outside the mask the output is 0, not the bias
    assert (out[0][:, ~mask[0]] == 0).all()
    assert torch.equal(
        conv(x),
        torch.nn.functional.conv2d(x, conv.weight, conv.bias, padding=1),
    )
