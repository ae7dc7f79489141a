"""AnchorHead's loss normaliser follows MMDetection 2.28: positives only
for focal-like losses / PseudoSampler, positives + negatives with a real
sampler. RetinaHead's losses are compared with MMDetection 2.28.2's on the
same weights and inputs."""

import os.path as osp

import numpy as np
import pytest
import torch
from mmcv import Config

from mmdet.core.bbox.samplers import PseudoSampler, RandomSampler
from mmdet.models import build_head
from mmdet.models.dense_heads.anchor_head import uses_sampling

REF = np.load(
    osp.join(osp.dirname(__file__), '..', 'data', 'mm228_retina_head_loss.npz')
)
TRAIN_CFG = dict(
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
)
FOCAL = dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25)
CE = dict(type='CrossEntropyLoss', use_sigmoid=True)
RANDOM = dict(type='RandomSampler', num=256, pos_fraction=0.5)


def test_retina_head_losses_match_mmdet():
    """RetinaHead with its default (sigmoid CE) loss and no sampler: the
    losses are averaged over the positives, as in MMDetection."""
    cfg = dict(
        type='RetinaHead',
        num_classes=3,
        in_channels=8,
        stacked_convs=1,
        feat_channels=8,
        train_cfg=TRAIN_CFG,
    )
    head = build_head(Config(dict(c=cfg)).c)
    head.load_state_dict(
        {k[3:]: torch.from_numpy(REF[k]) for k in REF.files if k[:3] == 'sd/'}
    )
    feats = [torch.from_numpy(REF[f'feat{i}']) for i in range(5)]
    meta = dict(
        img_shape=(128, 128, 3),
        pad_shape=(128, 128, 3),
        scale_factor=np.ones(4),
    )
    losses = head.loss(
        *head(feats),
        [torch.tensor([[8.0, 12.0, 80.0, 60.0]])],
        [torch.tensor([1])],
        [meta],
    )
    for key in ('loss_cls', 'loss_bbox'):
        got = [float(v.detach()) for v in losses[key]]
        np.testing.assert_allclose(
            got, REF[f'loss/{key}'], rtol=1e-4, atol=1e-4
        )


@pytest.mark.parametrize(
    'sampler,loss,expected',
    [
        (None, FOCAL, False),
        (dict(type='PseudoSampler'), CE, False),
        (RANDOM, CE, True),
        (RANDOM, FOCAL, False),
    ],
)
def test_uses_sampling(sampler, loss, expected):
    train_cfg = dict(TRAIN_CFG, sampler=sampler) if sampler else TRAIN_CFG
    if sampler is not None and loss is FOCAL:
        with pytest.warns(UserWarning, match='ignored'):
            assert uses_sampling(train_cfg, loss) is expected
    else:
        assert uses_sampling(train_cfg, loss) is expected
    assert uses_sampling(None, loss) is False


def test_focal_head_ignores_a_configured_sampler():
    cfg = dict(
        type='RetinaHead',
        num_classes=3,
        in_channels=8,
        stacked_convs=1,
        feat_channels=8,
        loss_cls=FOCAL,
        train_cfg=dict(TRAIN_CFG, sampler=RANDOM),
    )
    with pytest.warns(UserWarning):
        head = build_head(Config(dict(c=cfg)).c)
    assert isinstance(head.sampler, PseudoSampler) and not head.sampling
    rpn = build_head(
        Config(
            dict(
                c=dict(
                    type='RPNHead',
                    in_channels=8,
                    feat_channels=8,
                    train_cfg=dict(TRAIN_CFG, sampler=RANDOM),
                    test_cfg=dict(
                        nms_pre=10,
                        max_per_img=10,
                        nms=dict(type='nms', iou_threshold=0.7),
                    ),
                )
            )
        ).c
    )
    assert isinstance(rpn.sampler, RandomSampler) and rpn.sampling
