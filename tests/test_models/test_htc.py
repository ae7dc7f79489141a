"""Hybrid Task Cascade: training steps with and without the semantic
branch, the test-time result format, the mask information flow and the
semantic loss."""

import copy
import json
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmcv import Config
from test_cascade_rcnn import check_result_format
from test_detectors import make_batch

from mmdet.models import build_detector, build_head

ROOT = osp.dirname(osp.dirname(osp.dirname(__file__)))
CH = 16  # feature channels of the tiny model
NUM_CLASSES = 9  # make_batch labels go up to 8
NUM_SEG = 5


def tiny_cfg(with_semantic):
    """The stock config's model shrunk: ResNet-18, 16 channels, small
    samplers and proposal counts (the same code paths)."""
    name = (
        'htc_r50_fpn_1x_coco'
        if with_semantic
        else ('htc_without_semantic_r50_fpn_1x_coco')
    )
    model = copy.deepcopy(
        Config.fromfile(osp.join(ROOT, 'configs', 'htc', name + '.py')).model
    )
    model.backbone.update(depth=18, init_cfg=None)
    model.neck.update(in_channels=[64, 128, 256, 512], out_channels=CH)
    model.rpn_head.update(in_channels=CH, feat_channels=CH)
    roi = model.roi_head
    roi.bbox_roi_extractor.out_channels = CH
    roi.mask_roi_extractor.out_channels = CH
    for head in roi.bbox_head:
        head.update(in_channels=CH, fc_out_channels=32, num_classes=9)
    for head in roi.mask_head:
        head.update(in_channels=CH, conv_out_channels=CH, num_classes=9)
    if with_semantic:
        roi.semantic_roi_extractor.out_channels = CH
        roi.semantic_head.update(
            in_channels=CH, conv_out_channels=CH, num_classes=NUM_SEG
        )
    model.train_cfg.rpn_proposal.max_per_img = 100
    model.test_cfg.rpn.max_per_img = 100
    for stage in model.train_cfg.rcnn:
        stage.sampler.num = 32
    return model


def semantic_map(batch, seed=1):
    """(B, 1, H/8, W/8) class map with some ignored (255) pixels."""
    gen = torch.Generator().manual_seed(seed)
    b, _, h, w = batch['img'].shape
    seg = torch.randint(0, NUM_SEG, (b, 1, h // 8, w // 8), generator=gen)
    seg[:, :, 0] = 255
    return seg


@pytest.mark.parametrize('with_semantic', [True, False])
def test_train_step_losses_and_gradients(with_semantic):
    torch.manual_seed(0)
    model = build_detector(tiny_cfg(with_semantic))
    assert model.with_semantic is with_semantic
    model.train()
    batch = make_batch(shapes=((64, 64), (48, 64)), with_mask=True)
    if with_semantic:
        batch['gt_semantic_seg'] = semantic_map(batch)
    losses = model(**batch)
    stage_keys = ('loss_cls', 'acc', 'loss_bbox', 'loss_mask')
    expected = {'loss_rpn_cls', 'loss_rpn_bbox'} | {
        f's{i}.{k}' for i in range(3) for k in stage_keys
    }
    if with_semantic:
        expected.add('loss_semantic_seg')
    assert set(losses) == expected
    for key, value in losses.items():
        for part in value if isinstance(value, list) else [value]:
            assert torch.isfinite(part).all(), key
    loss, _ = model._parse_losses(losses)
    model.zero_grad()
    loss.backward()
    # (the residual branches' last BN starts at zero: only it and the
    # shortcut get gradients in the first step)
    for layer in ('layer2', 'layer4'):
        grads = [p.grad for p in getattr(model.backbone, layer).parameters()]
        assert any(g is not None and g.abs().sum() > 0 for g in grads)
    # every mask head (conv_res included) is trained
    for stage, head in enumerate(model.roi_head.mask_head):
        assert head.conv_logits.weight.grad.abs().sum() > 0, stage
        if stage > 0:
            assert head.conv_res.conv.weight.grad.abs().sum() > 0, stage
    if with_semantic:
        sem = model.roi_head.semantic_head
        assert sem.conv_logits.weight.grad.abs().sum() > 0
        # the embedding reaches the box and mask losses
        assert sem.conv_embedding.conv.weight.grad.abs().sum() > 0


@pytest.mark.parametrize('with_semantic', [True, False])
def test_simple_test_result_format(with_semantic):
    torch.manual_seed(0)
    model = build_detector(tiny_cfg(with_semantic))
    model.test_cfg.rcnn.score_thr = 0.0
    check_result_format(model, with_mask=True, num_classes=NUM_CLASSES)


def mask_head_chain(mask_info_flow):
    torch.manual_seed(0)
    cfg = tiny_cfg(with_semantic=False).roi_head
    cfg.update(
        mask_info_flow=mask_info_flow,
        train_cfg=None,
        test_cfg=dict(
            score_thr=0.0,
            nms=dict(type='nms', iou_threshold=0.5),
            max_per_img=10,
            mask_thr_binary=0.5,
        ),
    )
    return build_head(cfg).eval()


@pytest.mark.parametrize('mask_info_flow', [True, False])
def test_mask_information_flow(mask_info_flow):
    head = mask_head_chain(mask_info_flow)
    feats = torch.randn(3, CH, 14, 14)
    with torch.no_grad():
        before = head._all_stage_mask_logits(feats)[-1].clone()
        head.mask_head[0].convs[0].conv.weight.add_(0.5)
        after = head._all_stage_mask_logits(feats)[-1]
    changed = not torch.allclose(before, after)
    assert changed is mask_info_flow


def test_mask_information_flow_in_training():
    """Stage 2's mask loss depends on stage 0's mask convs only through
    the flow (its conv_logits is not involved)."""
    head = mask_head_chain(True)
    feats = torch.randn(2, CH, 14, 14)
    last_feat = None
    for prev in head.mask_head[:2]:
        last_feat = prev(feats, last_feat, return_logits=False)
    logits = head.mask_head[2](feats, last_feat, return_feat=False)
    logits.sum().backward()
    assert head.mask_head[0].convs[0].conv.weight.grad.abs().sum() > 0
    assert head.mask_head[0].conv_logits.weight.grad is None


def test_htc_mask_head_residual_definition():
    head = mask_head_chain(True).mask_head[1]
    x = torch.randn(2, CH, 14, 14)
    res = torch.randn(2, CH, 14, 14)
    with torch.no_grad():
        logits, feat = head(x, res)
        expected_feat = head(x + head.conv_res(res), return_logits=False)
    assert torch.allclose(feat, expected_feat)
    assert logits.shape == (2, NUM_CLASSES, 28, 28)
    first = mask_head_chain(True).mask_head[0]
    assert not hasattr(first, 'conv_res')
    with pytest.raises(ValueError):
        first(x, res)


def test_semantic_head_shapes_and_loss_ignore_index():
    head = build_head(
        dict(
            type='FusedSemanticHead',
            num_ins=5,
            fusion_level=1,
            num_convs=2,
            in_channels=CH,
            conv_out_channels=8,
            num_classes=NUM_SEG,
        )
    )
    feats = [torch.randn(2, CH, 64 // 2**i, 48 // 2**i) for i in range(5)]
    logits, embedding = head(feats)
    assert logits.shape == (2, NUM_SEG, 32, 24)
    assert embedding.shape == (2, 8, 32, 24)
    labels = torch.randint(0, NUM_SEG, (2, 1, 32, 24))
    labels[:, :, :5] = 255
    loss = head.loss(logits, labels)
    # float64 definition: 0.2 * (sum of -log softmax over the kept pixels)
    # / (all pixels), MMDetection's default avg_non_ignore=False
    logp = F.log_softmax(logits.detach().double(), dim=1)
    flat = labels.squeeze(1)
    keep = flat != 255
    picked = logp.permute(0, 2, 3, 1)[keep].gather(1, flat[keep].view(-1, 1))
    expected = -0.2 * picked.sum() / flat.numel()
    np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-5)


# ------------------------------------------------ MMDetection's numbers
def seeded_model(with_semantic):
    """The tiny model with the weights the reference was computed with."""
    cfg = tiny_cfg(with_semantic)
    cfg.test_cfg.rcnn.score_thr = 0.05
    torch.manual_seed(0)
    model = build_detector(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.2)
    return model


def htc_reference(with_semantic):
    path = osp.join(ROOT, 'tests', 'data', 'reference', 'mmdet228_htc.json')
    with open(path) as f:
        return json.load(f)[
            'semantic' if with_semantic else 'without_semantic'
        ]


@pytest.mark.parametrize('with_semantic', [True, False])
def test_simple_test_matches_mmdetection(with_semantic):
    ref = htc_reference(with_semantic)
    model = seeded_model(with_semantic).eval()
    batch = make_batch(shapes=((64, 64), (48, 64)))
    with torch.no_grad():
        results = model.simple_test(
            batch['img'], batch['img_metas'], rescale=True
        )
    assert sum(len(b) for b in ref['simple_test_bboxes'][0]) > 0
    for (bboxes, segms), ref_bboxes, ref_areas in zip(
        results, ref['simple_test_bboxes'], ref['simple_test_mask_areas']
    ):
        for dets, masks, ref_dets, areas in zip(
            bboxes, segms, ref_bboxes, ref_areas
        ):
            assert dets.shape == (len(ref_dets), 5)
            if len(ref_dets):
                # float32 through large random weights: relative 1e-4
                np.testing.assert_allclose(
                    dets, ref_dets, rtol=1e-4, atol=1e-3
                )
            assert [int(m.sum()) for m in masks] == pytest.approx(areas, abs=2)


@pytest.mark.parametrize('with_semantic', [True, False])
def test_training_losses_match_mmdetection(with_semantic):
    ref = htc_reference(with_semantic)['losses']
    model = seeded_model(with_semantic)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(0.1)
    model.train()
    batch = make_batch(shapes=((64, 64), (48, 64)), with_mask=True)
    if with_semantic:
        batch['gt_semantic_seg'] = semantic_map(batch)
    torch.manual_seed(5)  # the RoI samplers draw after this
    losses = model(**batch)
    assert set(losses) == set(ref)
    for key, value in losses.items():
        parts = value if isinstance(value, list) else [value]
        got = [float(v) for v in parts]
        np.testing.assert_allclose(
            np.asarray(got, dtype=np.float64).ravel(),
            np.asarray(ref[key], dtype=np.float64).ravel(),
            atol=1e-4,
            err_msg=key,
        )
