"""Sparse R-CNN: learned proposals, DIIHead, SparseRoIHead; a training step
and the test-time result format on tiny random images."""

import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmcv import Config
from test_detectors import make_batch

from mmdet.models import build_detector, build_head
from mmdet.utils.arg_errors import InvalidArgumentError

ROOT = osp.dirname(osp.dirname(osp.dirname(__file__)))
CONFIG = osp.join(
    ROOT, 'configs', 'sparse_rcnn', 'sparse_rcnn_r50_fpn_1x_coco.py'
)


def tiny_cfg(channels=32, num_stages=2, num_proposals=12, num_classes=10):
    """The stock config scaled down: ResNet-18, narrow FPN and heads."""
    model = copy.deepcopy(Config.fromfile(CONFIG).model)
    model.backbone.update(depth=18, init_cfg=None)
    model.neck.update(in_channels=[64, 128, 256, 512], out_channels=channels)
    model.rpn_head.update(
        num_proposals=num_proposals, proposal_feature_channel=channels
    )
    roi = model.roi_head
    roi.num_stages = num_stages
    roi.stage_loss_weights = [1.0, 0.5][:num_stages]
    roi.proposal_feature_channel = channels
    roi.bbox_roi_extractor.out_channels = channels
    head = roi.bbox_head[0]
    head.update(
        num_classes=num_classes,
        in_channels=channels,
        num_heads=4,
        feedforward_channels=64,
    )
    head.dynamic_conv_cfg.update(
        in_channels=channels, feat_channels=8, out_channels=channels
    )
    roi.bbox_head = [head] * num_stages
    model.train_cfg.rcnn = model.train_cfg.rcnn[:num_stages]
    return model


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    detector = build_detector(tiny_cfg())
    detector.init_weights()
    return detector


def test_initial_proposals_cover_the_image(model):
    batch = make_batch()
    boxes, feats, whwh = model.rpn_head.forward_train(
        [batch['img']], batch['img_metas']
    )
    assert boxes.shape == (2, 12, 4) and feats.shape == (2, 12, 32)
    for i, meta in enumerate(batch['img_metas']):
        h, w = meta['img_shape'][:2]
        expected = torch.tensor([0.0, 0.0, w, h]).expand(12, 4)
        torch.testing.assert_close(boxes[i], expected)
        assert whwh[i].tolist() == [[w, h, w, h]]


def test_train_step_losses_and_gradients(model):
    model.train()
    batch = make_batch()
    losses = model(return_loss=True, **batch)
    keys = ('loss_cls', 'pos_acc', 'loss_bbox', 'loss_iou')
    assert set(losses) == {f'stage{s}_{k}' for s in range(2) for k in keys}
    for key, value in losses.items():
        assert torch.isfinite(value).all(), key
    loss, _ = model._parse_losses(losses)
    model.zero_grad()
    loss.backward()
    # (ResNet zero-inits each block's last BN, so at step 0 the gradient
    # reaches the blocks through their BN2 and shortcut only)
    no_grad = [
        n
        for n, p in model.named_parameters()
        if n.startswith(('rpn_head.', 'roi_head.', 'neck.lateral_convs.'))
        and (p.grad is None or not p.grad.abs().sum())
    ]
    assert not no_grad, no_grad[:5]
    for layer in (model.backbone.layer2, model.backbone.layer4):
        assert layer[-1].bn2.weight.grad.abs().sum() > 0


def test_stage_loss_weights_scale_losses(model):
    model.train()
    batch = make_batch()
    weighted = model(return_loss=True, **batch)
    model.roi_head.stage_loss_weights = [1.0, 1.0]
    try:
        plain = model(return_loss=True, **batch)
    finally:
        model.roi_head.stage_loss_weights = [1.0, 0.5]
    for key in ('loss_cls', 'loss_bbox', 'loss_iou'):
        torch.testing.assert_close(
            weighted[f'stage0_{key}'], plain[f'stage0_{key}']
        )
        torch.testing.assert_close(
            weighted[f'stage1_{key}'], 0.5 * plain[f'stage1_{key}']
        )


def test_simple_test_format(model):
    model.eval()
    batch = make_batch(shapes=((64, 64), (48, 64)))
    with torch.no_grad():
        results = model(
            img=[batch['img']],
            img_metas=[batch['img_metas']],
            return_loss=False,
            rescale=True,
        )
    assert len(results) == 2
    for result in results:
        assert isinstance(result, list) and len(result) == 10
        assert sum(len(d) for d in result) == 100  # max_per_img pairs, no NMS
        for dets in result:
            assert isinstance(dets, np.ndarray) and dets.dtype == np.float32
            assert dets.ndim == 2 and dets.shape[1] == 5
            assert ((dets[:, 4] >= 0) & (dets[:, 4] <= 1)).all()


def test_dii_head_loss_definition():
    """L1 on size-normalized boxes and GIoU on pixel boxes, averaged over
    the positives; focal loss over every proposal."""
    cfg = tiny_cfg().roi_head.bbox_head[0]
    head = build_head(cfg)
    labels = torch.tensor([2, 10, 5])  # 10 = background
    pred = torch.tensor(
        [[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 2.0, 2.0], [5.0, 5.0, 20.0, 30.0]]
    )
    target = torch.tensor(
        [[1.0, 2.0, 11.0, 12.0], [0.0, 0.0, 0.0, 0.0], [5.0, 6.0, 20.0, 25.0]]
    )
    weights = torch.tensor([[1.0] * 4, [0.0] * 4, [1.0] * 4])
    whwh = torch.tensor([40.0, 32.0, 40.0, 32.0]).expand(3, 4)
    cls = torch.randn(3, 10)
    losses = head.loss(
        cls, pred, labels, torch.ones(3), target, weights, imgs_whwh=whwh
    )
    pos = [0, 2]
    l1 = (pred[pos] / whwh[pos] - target[pos] / whwh[pos]).abs().sum() / 2
    torch.testing.assert_close(losses['loss_bbox'], 5.0 * l1)
    assert losses['loss_iou'] > 0 and losses['loss_cls'] > 0


def test_bad_settings_refused():
    cfg = tiny_cfg()
    cfg.train_cfg.rcnn[0] = dict(
        cfg.train_cfg.rcnn[0],
        sampler=dict(type='RandomSampler', num=8, pos_fraction=0.5),
    )
    with pytest.raises((InvalidArgumentError, TypeError)):
        build_detector(cfg)
    with pytest.raises(InvalidArgumentError):
        build_head(dict(type='EmbeddingRPNHead', init_cfg=dict(type='Xavier')))
