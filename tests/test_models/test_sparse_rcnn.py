"""Sparse R-CNN: learned proposals, DIIHead, SparseRoIHead; a training step
and the test-time result format on tiny random images."""

import copy
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmcv import Config
from test_detectors import make_batch

from mmdet.core import bbox_cxcywh_to_xyxy
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


# ------------------------------------------------------------- QueryInst
QUERYINST = osp.join(
    ROOT, 'configs', 'queryinst', 'queryinst_r50_fpn_1x_coco.py'
)


def tiny_queryinst_cfg(channels=32, num_stages=2, num_classes=10):
    model = tiny_cfg(channels, num_stages, num_classes=num_classes)
    stock = Config.fromfile(QUERYINST).model
    model.type = 'QueryInst'
    roi = model.roi_head
    roi.mask_roi_extractor = dict(
        stock.roi_head.mask_roi_extractor, out_channels=channels
    )
    head = copy.deepcopy(stock.roi_head.mask_head[0])
    head.update(
        num_classes=num_classes,
        in_channels=channels,
        conv_out_channels=16,
        num_convs=1,
    )
    head.dynamic_conv_cfg.update(
        in_channels=channels, feat_channels=8, out_channels=channels
    )
    roi.mask_head = [head] * num_stages
    model.train_cfg.rcnn = [
        dict(c, mask_size=28) for c in model.train_cfg.rcnn
    ]
    model.test_cfg.rcnn.update(max_per_img=20, mask_thr_binary=0.5)
    return model


@pytest.fixture(scope='module')
def queryinst():
    torch.manual_seed(0)
    detector = build_detector(tiny_queryinst_cfg())
    detector.init_weights()
    return detector


def test_queryinst_train_step(queryinst):
    queryinst.train()
    losses = queryinst(return_loss=True, **make_batch(with_mask=True))
    keys = ('loss_cls', 'pos_acc', 'loss_bbox', 'loss_iou', 'loss_mask')
    assert set(losses) == {f'stage{s}_{k}' for s in range(2) for k in keys}
    for key, value in losses.items():
        assert torch.isfinite(value).all(), key
    loss, _ = queryinst._parse_losses(losses)
    queryinst.zero_grad()
    loss.backward()
    for stage in range(2):
        mask_head = queryinst.roi_head.mask_head[stage]
        assert mask_head.conv_logits.weight.grad.abs().sum() > 0
        dyn = mask_head.instance_interactive_conv.dynamic_layer.weight
        assert dyn.grad.abs().sum() > 0
    assert queryinst.backbone.layer4[-1].bn2.weight.grad.abs().sum() > 0


def test_queryinst_mask_loss_is_dice_of_own_class():
    head = build_head(tiny_queryinst_cfg().roi_head.mask_head[0])
    logits = torch.randn(3, 10, 4, 4, dtype=torch.float64)
    targets = (torch.rand(3, 4, 4) > 0.5).double()
    labels = torch.tensor([1, 9, 4])
    loss = head.loss(logits, targets, labels)['loss_mask']
    p = logits[torch.arange(3), labels].sigmoid().flatten(1)
    t = targets.flatten(1)
    eps = 1e-5
    # MMDetection's DiceLoss (naive_dice=False): eps once per square sum
    dice = 1 - 2 * (p * t).sum(1) / (
        (p * p).sum(1) + eps + (t * t).sum(1) + eps
    )
    torch.testing.assert_close(loss, 8.0 * dice.mean())


def test_queryinst_simple_test_format(queryinst):
    queryinst.eval()
    batch = make_batch(shapes=((64, 64), (48, 64)))
    with torch.no_grad():
        results = queryinst(
            img=[batch['img']],
            img_metas=[batch['img_metas']],
            return_loss=False,
            rescale=True,
        )
    assert len(results) == 2
    for (dets, segms), meta in zip(results, batch['img_metas']):
        assert len(dets) == len(segms) == 10
        assert sum(len(d) for d in dets) == 20
        for cls_dets, masks in zip(dets, segms):
            assert cls_dets.dtype == np.float32 and cls_dets.shape[1] == 5
            assert len(masks) == len(cls_dets)
            for mask in masks:
                assert mask.shape == meta['ori_shape'][:2]
                assert mask.dtype == bool


def test_mask_of_a_box_beyond_the_image_is_empty():
    """Unclipped boxes (QueryInst's) may lie wholly outside the image."""
    head = build_head(tiny_queryinst_cfg().roi_head.mask_head[0])
    boxes = torch.tensor([[10.0, 50.0, 30.0, 70.0], [70.0, 2.0, 90.0, 9.0]])
    masks = head.get_seg_masks(
        torch.full((2, 10, 28, 28), 5.0),
        boxes,
        torch.tensor([3, 3]),
        dict(mask_thr_binary=0.5),
        (48, 64, 3),
        np.ones(4, dtype=np.float32),
        rescale=True,
    )
    assert [m.shape for m in masks[3]] == [(48, 64)] * 2
    assert not masks[3][0].any() and not masks[3][1].any()


def test_forward_dummy(model, queryinst):
    img = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        outs = model.forward_dummy(img)
        mask_outs = queryinst.forward_dummy(img)
    assert len(outs) == 2 and all(len(o) == 1 for o in outs)
    assert outs[-1][0]['cls_score'].shape == (1, 12, 10)
    assert len(mask_outs) == 2 and all(len(o) == 2 for o in mask_outs)
    assert mask_outs[-1][1]['mask_pred'].shape == (12, 10, 28, 28)


# ------------------------------- head numerics against MMDetection 2.28.2
# DIIHead and DynamicMaskHead with random weights: their outputs (and the
# mask loss) as MMDetection 2.28.2 computed them on the stored inputs.
HEADS_REF = osp.join(
    ROOT, 'tests', 'data', 'reference', 'sparse_rcnn_queryinst_heads.json'
)


def _reference_head(name):
    with open(HEADS_REF) as f:
        ref = json.load(f)
    case = ref[name]
    head = build_head(case['cfg'])
    state = {k: torch.tensor(v) for k, v in case['state_dict'].items()}
    head.load_state_dict(state, strict=True)
    head.eval()
    roi = torch.tensor(case['roi_feat'])
    prop = torch.tensor(case['proposal_feat'])
    return ref, case, head, roi, prop


def test_dii_head_forward_matches_mmdet():
    _, case, head, roi, prop = _reference_head('DIIHead')
    with torch.no_grad():
        outs = head(roi, prop)
    assert len(outs) == len(case['outputs']) == 4
    for out, expected in zip(outs, case['outputs']):
        torch.testing.assert_close(
            out, torch.tensor(expected), atol=1e-4, rtol=0
        )


def test_dynamic_mask_head_forward_and_loss_match_mmdet():
    ref, case, head, roi, prop = _reference_head('DynamicMaskHead')
    with torch.no_grad():
        mask_pred = head(roi, prop.reshape(-1, prop.shape[-1]))
    expected_pred, expected_loss = case['outputs']
    torch.testing.assert_close(
        mask_pred, torch.tensor(expected_pred), atol=1e-4, rtol=0
    )
    targets = torch.tensor(ref['mask_loss_inputs']['targets'])
    labels = torch.tensor(ref['mask_loss_inputs']['labels'])
    loss = head.loss(mask_pred, targets, labels)['loss_mask']
    assert loss.item() == pytest.approx(expected_loss, abs=1e-4)


def test_sparse_roi_head_losses_and_results_match_mmdet():
    """Two stages end to end (RoIAlign, DIIHead, Hungarian matching, box
    refinement, losses, top-k results) on MMDetection 2.28.2's numbers
    (its RoIAlign replaced by torchvision's aligned one there)."""
    with open(
        osp.join(ROOT, 'tests/data/reference/sparse_roi_head.json')
    ) as f:
        ref = json.load(f)
    cfg = dict(ref['cfg'])
    head = build_head(cfg)
    state = {k: torch.tensor(v) for k, v in ref['state_dict'].items()}
    head.load_state_dict(state, strict=True)
    x = [torch.tensor(t) for t in ref['x']]
    metas = [
        dict(
            img_shape=tuple(s),
            ori_shape=tuple(s),
            scale_factor=np.ones(4, dtype=np.float32),
        )
        for s in ref['img_shapes']
    ]
    whwh = torch.tensor([[[s[1], s[0]] * 2] for s in ref['img_shapes']])
    boxes = bbox_cxcywh_to_xyxy(torch.tensor(ref['cxcywh']))[None] * whwh
    feats = torch.tensor(ref['proposal_feats'])[None].expand(2, -1, -1)
    gt_bboxes = [torch.tensor(b) for b in ref['gt_bboxes']]
    gt_labels = [torch.tensor(b) for b in ref['gt_labels']]
    head.train()
    losses = head.forward_train(
        x, boxes, feats, metas, gt_bboxes, gt_labels, imgs_whwh=whwh
    )
    assert set(losses) == set(ref['losses'])
    for key, value in ref['losses'].items():
        assert losses[key].item() == pytest.approx(value, abs=1e-4), key
    head.eval()
    with torch.no_grad():
        results = head.simple_test(
            x, boxes, feats, metas, imgs_whwh=whwh, rescale=True
        )
    assert len(results) == len(ref['results']) == 2
    for img_res, img_ref in zip(results, ref['results']):
        assert sum(len(d) for d in img_res) == 5  # max_per_img
        for dets, expected in zip(img_res, img_ref):
            expected = np.array(expected, dtype=np.float32).reshape(-1, 5)
            # topk(sorted=False): compare as sets of rows
            order = np.lexsort(dets.T[::-1])
            ref_order = np.lexsort(expected.T[::-1])
            np.testing.assert_allclose(
                dets[order], expected[ref_order], atol=1e-4
            )


def test_dii_attention_keeps_its_dropout_after_mmcv_default_is_changed():
    """mmcv's MultiheadAttention writes a deprecated ``dropout=`` into its
    shared default ``dropout_layer`` dict (Deformable DETR's configs do
    this): a DIIHead built afterwards must still drop nothing there, or
    Sparse R-CNN's training turns random."""
    from mmcv.cnn.bricks.transformer import MultiheadAttention

    defaults = MultiheadAttention.__init__.__defaults__
    shared = next(d for d in defaults if isinstance(d, dict))
    original = dict(shared)
    try:
        with pytest.warns(DeprecationWarning):
            MultiheadAttention(8, 2, dropout=0.1)
        assert shared['drop_prob'] == 0.1  # the mmcv behaviour guarded
        head = build_head(copy.deepcopy(tiny_cfg().roi_head.bbox_head[0]))
        drops = [
            m.p
            for m in head.attention.modules()
            if isinstance(m, torch.nn.Dropout)
        ]
        assert drops and all(p == 0.0 for p in drops)
    finally:
        shared.clear()
        shared.update(original)
