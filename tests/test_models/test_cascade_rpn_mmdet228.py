"""Cascade RPN (CascadeRPNHead, StageCascadeRPNHead, AdaptiveConv) against
numbers MMDetection 2.28.2 computed: the same random weights and features,
the per-stage losses of every level, the anchor offsets and the proposals
in training and at test time (4 decimals)."""

import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmcv import ConfigDict

from mmdet.models import build_head
from mmdet.models.dense_heads.cascade_rpn_head import AdaptiveConv
from mmdet.utils.arg_errors import InvalidArgumentError

REF = np.load(
    osp.join(osp.dirname(__file__), '..', 'data', 'mm228_cascade_rpn.npz')
)
C = 8


def _stage_cfgs():
    coder = dict(type='DeltaXYWHBBoxCoder', target_means=(0.0,) * 4)
    iou = dict(type='IoULoss', linear=True, loss_weight=10.0)
    return [
        dict(
            type='StageCascadeRPNHead',
            in_channels=C,
            feat_channels=C,
            anchor_generator=dict(
                type='AnchorGenerator',
                scales=[8],
                ratios=[1.0],
                strides=[4, 8, 16, 32, 64],
            ),
            adapt_cfg=dict(type='dilation', dilation=3),
            bridged_feature=True,
            sampling=False,
            with_cls=False,
            reg_decoded_bbox=True,
            bbox_coder=dict(coder, target_stds=(0.1, 0.1, 0.5, 0.5)),
            loss_bbox=iou,
        ),
        dict(
            type='StageCascadeRPNHead',
            in_channels=C,
            feat_channels=C,
            adapt_cfg=dict(type='offset'),
            bridged_feature=False,
            sampling=True,
            with_cls=True,
            reg_decoded_bbox=True,
            bbox_coder=dict(coder, target_stds=(0.05, 0.05, 0.1, 0.1)),
            loss_cls=dict(
                type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0
            ),
            loss_bbox=iou,
        ),
    ]


TRAIN_CFG = [
    dict(
        assigner=dict(
            type='RegionAssigner', center_ratio=0.2, ignore_ratio=0.5
        ),
        allowed_border=-1,
        pos_weight=-1,
        debug=False,
    ),
    dict(
        assigner=dict(
            type='MaxIoUAssigner',
            pos_iou_thr=0.7,
            neg_iou_thr=0.7,
            min_pos_iou=0.3,
            ignore_iof_thr=-1,
        ),
        # more samples than anchors: the sampled set is not random
        sampler=dict(
            type='RandomSampler',
            num=1024,
            pos_fraction=0.5,
            neg_pos_ub=-1,
            add_gt_as_proposals=False,
        ),
        allowed_border=-1,
        pos_weight=-1,
        debug=False,
    ),
]
TEST_CFG = dict(
    nms_pre=100,
    max_per_img=30,
    nms=dict(type='nms', iou_threshold=0.8),
    min_bbox_size=0,
)
METAS = [
    dict(img_shape=(64, 64, 3), pad_shape=(64, 64, 3), scale_factor=[1.0] * 4),
    dict(img_shape=(50, 60, 3), pad_shape=(64, 64, 3), scale_factor=[1.0] * 4),
]
GTS = [
    torch.tensor(
        [
            [4.0, 6.0, 30.0, 28.0],
            [20.0, 10.0, 60.0, 58.0],
            [40.0, 40.0, 50.0, 52.0],
            [1.0, 2.0, 63.0, 62.0],
        ]
    ),
    torch.tensor([[2.0, 3.0, 20.0, 40.0], [30.0, 5.0, 58.0, 25.0]]),
]


@pytest.fixture(scope='module')
def head_and_feats():
    head = build_head(
        dict(
            type='CascadeRPNHead',
            num_stages=2,
            stages=_stage_cfgs(),
            train_cfg=[ConfigDict(t) for t in TRAIN_CFG],
            test_cfg=ConfigDict(TEST_CFG),
        )
    )
    sd = {
        k[3:]: torch.from_numpy(v)
        for k, v in REF.items()
        if k.startswith('sd/')
    }
    head.load_state_dict(sd, strict=True)
    feats = [torch.from_numpy(REF[f'feat{lvl}']) for lvl in range(5)]
    return head, feats


def test_state_dict_keys(head_and_feats):
    head, _ = head_and_feats
    assert set(head.state_dict()) == {
        'stages.0.rpn_conv.conv.weight',
        'stages.0.rpn_conv.conv.bias',
        'stages.0.rpn_reg.weight',
        'stages.0.rpn_reg.bias',
        'stages.1.rpn_conv.conv.weight',
        'stages.1.rpn_cls.weight',
        'stages.1.rpn_cls.bias',
        'stages.1.rpn_reg.weight',
        'stages.1.rpn_reg.bias',
    }


def test_losses_and_train_proposals(head_and_feats):
    head, feats = head_and_feats
    losses, props = head.forward_train(
        feats, METAS, GTS, proposal_cfg=ConfigDict(TEST_CFG)
    )
    assert set(losses) == {
        's0.loss_rpn_reg',
        's1.loss_rpn_cls',
        's1.loss_rpn_reg',
    }
    for name, values in losses.items():
        np.testing.assert_allclose(
            torch.stack(values).detach().numpy(),
            REF[f'loss/{name}'],
            rtol=1e-4,
            atol=1e-4,
        )
    for i, p in enumerate(props):
        assert not p.requires_grad
        np.testing.assert_allclose(
            p.numpy(), REF[f'train_props{i}'], atol=1e-4
        )
    # gradients reach both stages' convs
    sum(sum(v) for v in losses.values()).backward()
    for stage in head.stages:
        assert stage.rpn_conv.conv.weight.grad.abs().sum() > 0


def test_test_proposals_and_offsets(head_and_feats):
    head, feats = head_and_feats
    with torch.no_grad():
        props = head.simple_test_rpn(feats, METAS)
        stage = head.stages[0]
        sizes = [f.shape[-2:] for f in feats]
        anchors, _ = stage.get_anchors(sizes, METAS, device='cpu')
        refined = stage.refine_bboxes(anchors, stage(feats)[2], METAS)
        offsets = stage.anchor_offset(refined, stage.anchor_strides, sizes)
    for i, p in enumerate(props):
        assert p.shape == (30, 5)
        np.testing.assert_allclose(p.numpy(), REF[f'test_props{i}'], atol=1e-4)
    for lvl, off in enumerate(offsets):
        np.testing.assert_allclose(
            off.numpy(), REF[f'offset{lvl}'], rtol=1e-4, atol=1e-4
        )


def test_unrefined_anchor_offset_is_the_dilation():
    """A square anchor of side 2 * d * stride centred on its cell samples
    exactly where a 3x3 conv of dilation d does: offset (d - 1) * k."""
    stage = build_head(_stage_cfgs()[1])
    stride, d = 8, 3
    anchors = torch.tensor([[12.0 - 24, 4.0 - 24, 12.0 + 24, 4.0 + 24]])
    # the anchor sits on cell (x=1.5, y=0.5) of a 1x1 map: centre shift
    (offset,) = stage.anchor_offset([[anchors]], [stride], [(1, 1)])
    k = torch.tensor([-1.0, 0.0, 1.0])
    ky, kx = torch.meshgrid(k, k, indexing='ij')
    expect = torch.stack(
        [(d - 1) * ky.reshape(-1) + 0.5, (d - 1) * kx.reshape(-1) + 1.5], -1
    )
    torch.testing.assert_close(offset[0, 0], expect.reshape(-1))


@pytest.mark.parametrize('mode', ['dilation', 'offset'])
def test_adaptive_conv(mode):
    kw = dict(type=mode) if mode == 'offset' else dict(type=mode, dilation=2)
    conv = AdaptiveConv(3, 4, **kw)
    prefix = f'ac_{mode}/sd/'
    conv.load_state_dict(
        {
            k[len(prefix) :]: torch.from_numpy(v)
            for k, v in REF.items()
            if k.startswith(prefix)
        },
        strict=True,
    )
    x = torch.from_numpy(REF[f'ac_{mode}/x'])
    offset = None
    if mode == 'offset':
        offset = torch.from_numpy(REF['ac_offset/offset'])
    with torch.no_grad():
        y = conv(x, offset)
    np.testing.assert_allclose(y.numpy(), REF[f'ac_{mode}/y'], atol=1e-4)


def test_adaptive_conv_zero_offset_is_plain_conv():
    conv = AdaptiveConv(3, 4, type='offset')
    x = torch.randn(1, 3, 4, 5)
    y = conv(x, torch.zeros(1, 20, 18))
    expect = F.conv2d(x, conv.conv.weight, padding=1)
    torch.testing.assert_close(y, expect, rtol=1e-5, atol=1e-5)


def test_adaptive_conv_checks():
    with pytest.raises(InvalidArgumentError):
        AdaptiveConv(3, 4, type='shift')
    with pytest.raises(InvalidArgumentError):
        AdaptiveConv(3, 4, kernel_size=5)
    with pytest.raises(InvalidArgumentError):
        AdaptiveConv(3, 4, type='offset')(torch.zeros(1, 3, 4, 4), None)
