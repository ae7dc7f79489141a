"""Cascade R-CNN and Cascade Mask R-CNN: the six configs' checkpoint layout
and parameter counts, the cascade's numerics, training losses and gradients
per stage, and the test-time result format."""

import copy
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmcv import Config
from test_detectors import make_batch

from mmdet.core import BitmapMasks
from mmdet.models import build_detector, build_head

ROOT = osp.dirname(osp.dirname(osp.dirname(__file__)))
REFERENCE = osp.join(ROOT, 'tests', 'data', 'reference')
ODCONV = [
    f'{det}_odconv4x_{bb}_fpn_1x_coco'
    for det in ('cascade_rcnn', 'cascade_mask_rcnn')
    for bb in ('r50', 'mobilenetv2_100')
]
STOCK = ['cascade_rcnn_r50_fpn_1x_coco', 'cascade_mask_rcnn_r50_fpn_1x_coco']


def config_path(name):
    folder = 'cascade_rcnn' if name in STOCK else 'odconv'
    return osp.join(ROOT, 'configs', folder, name + '.py')


def reference(name):
    """(state_dict shapes, parameter count) MMDetection 2.28 gives."""
    group = 'detectors_mmdet' if name in STOCK else 'detectors'
    with open(osp.join(REFERENCE, group, name + '.json')) as f:
        shapes = {k: tuple(v) for k, v in json.load(f).items()}
    with open(osp.join(REFERENCE, 'params.json')) as f:
        return shapes, json.load(f)[group][name]


def model_cfg(name):
    """The config's model without ImageNet weights, with 200 proposals per
    image instead of 1000-2000 (the same code path, in less time)."""
    model = copy.deepcopy(Config.fromfile(config_path(name)).model)
    model.pretrained = None
    model.backbone.pop('init_cfg', None)
    model.train_cfg.rpn_proposal.max_per_img = 200
    model.test_cfg.rpn.max_per_img = 200
    return model


_BUILT = {}


def built(name):
    """Each full-size model is built once for all tests of this module."""
    if name not in _BUILT:
        torch.manual_seed(0)
        _BUILT[name] = build_detector(model_cfg(name))
    return _BUILT[name]


@pytest.mark.parametrize('name', ODCONV + STOCK)
def test_state_dict_layout_and_params_match_mmdetection(name):
    model = built(name)
    ref_shapes, ref_params = reference(name)
    assert sum(p.numel() for p in model.parameters()) == ref_params
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert sorted(set(shapes) ^ set(ref_shapes)) == []
    assert shapes == ref_shapes


@pytest.mark.parametrize('name', ODCONV + STOCK)
def test_config_settings(name):
    cfg = Config.fromfile(config_path(name))
    model = cfg.model
    assert model.type == 'CascadeRCNN'
    roi_head = model.roi_head
    assert roi_head.type == 'CascadeRoIHead'
    assert roi_head.num_stages == 3
    assert roi_head.stage_loss_weights == [1, 0.5, 0.25]
    stds = [h.bbox_coder.target_stds for h in roi_head.bbox_head]
    assert stds == [
        [0.1, 0.1, 0.2, 0.2],
        [0.05, 0.05, 0.1, 0.1],
        [0.033, 0.033, 0.067, 0.067],
    ]
    assert all(h.reg_class_agnostic for h in roi_head.bbox_head)
    ious = [s.assigner.pos_iou_thr for s in model.train_cfg.rcnn]
    assert ious == [0.5, 0.6, 0.7]
    assert model.train_cfg.rpn_proposal.max_per_img == 2000
    assert model.train_cfg.rpn.allowed_border == 0
    with_mask = 'mask' in name
    assert ('mask_head' in roi_head) is with_mask
    assert all(('mask_size' in s) is with_mask for s in model.train_cfg.rcnn)
    assert cfg.data.train.pipeline[1].get('with_mask', False) is with_mask
    assert cfg.runner.max_epochs == 12 and cfg.optimizer.lr == 0.02
    if name in STOCK:
        assert model.backbone.init_cfg.checkpoint == 'torchvision://resnet50'
    else:
        assert model.backbone.type.startswith('OD_')
        assert model.backbone.kernel_num == 4
        assert model.backbone.reduction == 0.0625
        assert cfg.find_unused_parameters is True


def test_regress_by_class_matches_mmdetection():
    with open(osp.join(REFERENCE, 'numerics_families.json')) as f:
        ref = json.load(f)['cascade_regress_by_class']
    stage2 = Config.fromfile(config_path(ODCONV[0])).model.roi_head.bbox_head[
        1
    ]
    head = build_head(stage2)
    rois = torch.tensor(ref['rois'])
    deltas = torch.tensor(ref['deltas'])
    refined = head.regress_by_class(
        rois,
        torch.zeros(2, dtype=torch.long),
        deltas,
        dict(img_shape=(100, 120, 3)),
    )
    np.testing.assert_allclose(
        refined.numpy(), np.array(ref['refined']), atol=1e-4
    )


def check_losses_and_gradients(model, with_mask):
    """Per-stage losses exist, are finite, and every trainable parameter
    gets a gradient from their sum."""
    torch.manual_seed(0)
    model.train()
    losses = model(
        **make_batch(shapes=((64, 64), (48, 64)), with_mask=with_mask)
    )
    stage_keys = {'loss_cls', 'acc', 'loss_bbox'} | (
        {'loss_mask'} if with_mask else set()
    )
    expected = {'loss_rpn_cls', 'loss_rpn_bbox'} | {
        f's{i}.{k}' for i in range(3) for k in stage_keys
    }
    assert set(losses) == expected
    for key, value in losses.items():
        # the RPN's losses are per-level lists, as in MMDetection
        for part in value if isinstance(value, list) else [value]:
            assert torch.isfinite(part).all(), key
    loss, _ = model._parse_losses(losses)
    model.zero_grad()
    loss.backward()
    missing = [
        name
        for name, p in model.named_parameters()
        if p.requires_grad
        and p.grad is None
        and not name.startswith(('backbone.fc.', 'backbone.classifier.'))
    ]
    assert not missing, f'no gradient reaches {missing[:5]}'
    for stage in range(3):
        grad = model.roi_head.bbox_head[stage].fc_cls.weight.grad
        assert grad.abs().sum() > 0, stage


def check_result_format(model, with_mask, num_classes=80):
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
    for result, meta in zip(results, batch['img_metas']):
        if with_mask:
            assert isinstance(result, tuple) and len(result) == 2
            result, segms = result
            assert len(segms) == num_classes
            for dets, masks in zip(result, segms):
                assert len(masks) == len(dets)
                for mask in masks:
                    assert mask.shape == meta['ori_shape'][:2]
                    assert mask.dtype == bool
        assert isinstance(result, list) and len(result) == num_classes
        for dets in result:
            assert isinstance(dets, np.ndarray) and dets.dtype == np.float32
            assert dets.ndim == 2 and dets.shape[1] == 5


@pytest.mark.parametrize('name', ODCONV + STOCK)
def test_forward_train_and_results_every_config(name):
    model = built(name)
    # 32 RoIs per image and stage instead of 512: the same code path
    for sampler in model.roi_head.bbox_sampler:
        sampler.num = 32
    check_losses_and_gradients(model, with_mask='mask' in name)
    check_result_format(model, with_mask='mask' in name)


# ------------------------------------------------- CascadeRoIHead alone
def stage_train_cfg(iou, **extra):
    return dict(
        assigner=dict(
            type='MaxIoUAssigner',
            pos_iou_thr=iou,
            neg_iou_thr=iou,
            min_pos_iou=iou,
            match_low_quality=False,
            ignore_iof_thr=-1,
        ),
        sampler=dict(
            type='RandomSampler',
            num=32,
            pos_fraction=0.25,
            neg_pos_ub=-1,
            add_gt_as_proposals=True,
        ),
        pos_weight=-1,
        debug=False,
        **extra,
    )


def cascade_head_cfg(channels=8, num_classes=3, weights=(1, 0.5, 0.25)):
    """A three-stage head on ``channels``-channel features."""
    heads = [
        dict(
            type='Shared2FCBBoxHead',
            in_channels=channels,
            fc_out_channels=16,
            roi_feat_size=7,
            num_classes=num_classes,
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder',
                target_means=[0.0, 0.0, 0.0, 0.0],
                target_stds=[s, s, 2 * s, 2 * s],
            ),
            reg_class_agnostic=True,
            loss_cls=dict(
                type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0
            ),
            loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0),
        )
        for s in (0.1, 0.05, 0.033)
    ]
    return dict(
        type='CascadeRoIHead',
        num_stages=3,
        stage_loss_weights=list(weights),
        bbox_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
            out_channels=channels,
            featmap_strides=[4, 8, 16, 32],
        ),
        bbox_head=heads,
        train_cfg=[stage_train_cfg(iou) for iou in (0.5, 0.6, 0.7)],
        test_cfg=dict(
            score_thr=0.0,
            nms=dict(type='nms', iou_threshold=0.5),
            max_per_img=5,
        ),
    )


def head_inputs(channels=8, size=64):
    torch.manual_seed(0)
    feats = tuple(
        torch.randn(2, channels, size // s, size // s)
        for s in (4, 8, 16, 32, 64)
    )
    metas = [
        dict(
            img_shape=(size, size, 3),
            ori_shape=(size, size, 3),
            pad_shape=(size, size, 3),
            scale_factor=np.ones(4, dtype=np.float32),
        )
    ] * 2
    gt_bboxes = [
        torch.tensor([[4.0, 4.0, 40.0, 36.0]]),
        torch.tensor([[10.0, 20.0, 60.0, 60.0], [0.0, 0.0, 16.0, 16.0]]),
    ]
    gt_labels = [torch.tensor([2]), torch.tensor([0, 1])]
    proposals = [
        torch.cat([b + torch.randn(20, 4) * 3, torch.rand(20, 1)], 1)
        for b in (gt_bboxes[0].repeat(20, 1), gt_bboxes[1].repeat(10, 1))
    ]
    return feats, metas, gt_bboxes, gt_labels, proposals


def test_cascade_head_settings_are_checked():
    cfg = cascade_head_cfg()
    bad = dict(cfg, train_cfg=stage_train_cfg(0.5))
    with pytest.raises(TypeError, match='one dict per stage'):
        build_head(bad)
    bad = dict(cfg, train_cfg=cfg['train_cfg'][:2])
    with pytest.raises(ValueError, match='num_stages is 3'):
        build_head(bad)
    bad = dict(
        cfg,
        train_cfg=[
            stage_train_cfg(0.5),
            stage_train_cfg(0.6, mask_szie=28),
            stage_train_cfg(0.7),
        ],
    )
    with pytest.raises(KeyError, match=r'train_cfg.rcnn\[1\]'):
        build_head(bad)
    with pytest.raises(ValueError, match='stage_loss_weights'):
        build_head(dict(cfg, stage_loss_weights=[1, 0.5]))
    with pytest.raises(ValueError, match='shared_head'):
        build_head(dict(cfg, shared_head=dict(type='ResLayer')))
    head = build_head(cfg)
    assert len(head.bbox_assigner) == len(head.bbox_sampler) == 3
    assert [a.pos_iou_thr for a in head.bbox_assigner] == [0.5, 0.6, 0.7]
    assert head.current_stage == 2


def test_stage_losses_are_weighted():
    torch.manual_seed(0)
    plain = build_head(cascade_head_cfg(weights=(1, 1, 1)))
    weighted = build_head(cascade_head_cfg())
    weighted.load_state_dict(plain.state_dict())
    feats, metas, gt_bboxes, gt_labels, proposals = head_inputs()
    results = []
    for head in (plain, weighted):
        torch.manual_seed(1)  # the same samples in both
        results.append(
            head.forward_train(feats, metas, proposals, gt_bboxes, gt_labels)
        )
    ones, losses = results
    assert set(losses) == {
        f's{i}.{k}' for i in range(3) for k in ('loss_cls', 'acc', 'loss_bbox')
    }
    for stage, weight in enumerate((1, 0.5, 0.25)):
        for key in ('loss_cls', 'loss_bbox'):
            name = f's{stage}.{key}'
            assert torch.allclose(losses[name], ones[name] * weight), name
        assert torch.equal(losses[f's{stage}.acc'], ones[f's{stage}.acc'])


def test_test_scores_are_stage_averaged_logits():
    torch.manual_seed(0)
    head = build_head(cascade_head_cfg()).eval()
    feats, metas, _, _, proposals = head_inputs()
    with torch.no_grad():
        boxes, scores = head.simple_test_bboxes(feats, metas, proposals, None)
        # by hand: each stage on the previous stage's regressed boxes
        rois = [p[:, :4] for p in proposals]
        logits = []
        for stage in range(3):
            res = head._bbox_forward(stage, feats, _rois(rois))
            logits.append(res['cls_score'])
            if stage < 2:
                labels = res['cls_score'][:, :-1].argmax(1)
                regressed = head.bbox_head[stage].regress_by_class(
                    _rois(rois), labels, res['bbox_pred'], metas[0]
                )
                rois = [regressed[regressed[:, 0] == i, 1:] for i in range(2)]
    mean = (sum(logits) / 3).softmax(-1).split([len(r) for r in rois])
    for i in range(2):
        assert torch.allclose(scores[i], mean[i], atol=1e-6)
        expected = head.bbox_head[2].bbox_coder.decode(
            rois[i],
            res['bbox_pred'].split([20, 20])[i],
            max_shape=metas[i]['img_shape'],
        )
        assert torch.allclose(boxes[i], expected, atol=1e-4)
    # not the average of the probabilities
    probs = sum(x.softmax(-1) for x in logits) / 3
    assert not torch.allclose(torch.cat(scores), probs, atol=1e-4)


def _rois(boxes):
    return torch.cat(
        [
            torch.cat([b.new_full((len(b), 1), i), b], 1)
            for i, b in enumerate(boxes)
        ]
    )


def test_cascade_mask_head_per_stage_and_results():
    cfg = cascade_head_cfg()
    cfg.update(
        mask_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=0),
            out_channels=8,
            featmap_strides=[4, 8, 16, 32],
        ),
        mask_head=dict(
            type='FCNMaskHead',
            num_convs=1,
            in_channels=8,
            conv_out_channels=8,
            num_classes=3,
            loss_mask=dict(
                type='CrossEntropyLoss', use_mask=True, loss_weight=1.0
            ),
        ),
        train_cfg=[
            stage_train_cfg(iou, mask_size=28) for iou in (0.5, 0.6, 0.7)
        ],
    )
    cfg['test_cfg']['mask_thr_binary'] = 0.5
    torch.manual_seed(0)
    head = build_head(cfg)
    assert len(head.mask_head) == len(head.mask_roi_extractor) == 3
    keys = head.state_dict().keys()
    assert {k.split('.')[1] for k in keys if k.startswith('mask_head.')} == {
        '0',
        '1',
        '2',
    }
    feats, metas, gt_bboxes, gt_labels, proposals = head_inputs()
    gt_masks = [
        BitmapMasks(np.ones((len(b), 64, 64), dtype=np.uint8), 64, 64)
        for b in gt_bboxes
    ]
    losses = head.forward_train(
        feats, metas, proposals, gt_bboxes, gt_labels, gt_masks=gt_masks
    )
    assert {f's{i}.loss_mask' for i in range(3)} <= set(losses)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    for stage in range(3):
        assert head.mask_head[stage].conv_logits.weight.grad is not None
    head.eval()
    with torch.no_grad():
        results = head.simple_test(feats, proposals, metas, rescale=True)
        empty = head.simple_test(feats, [p[:0] for p in proposals], metas)
    for bbox_result, segm_result in results:
        assert 1 <= sum(len(b) for b in bbox_result) <= 5
        for dets, masks in zip(bbox_result, segm_result):
            assert len(masks) == len(dets)
            assert all(m.shape == (64, 64) and m.dtype == bool for m in masks)
    for bbox_result, segm_result in empty:
        assert all(b.shape == (0, 5) for b in bbox_result)
        assert segm_result == [[], [], []]
    # test-time augmentation: two identical augmentations give the
    # single-augmentation result
    one = tuple(f[:1] for f in feats)
    meta = dict(metas[0], flip=False, flip_direction=None)
    with torch.no_grad():
        single = head.aug_test([one], proposals[:1], [[meta]], rescale=True)
        twice = head.aug_test(
            [one, one], proposals[:1], [[meta], [meta]], rescale=True
        )
    ((bbox_single, segm_single),) = single
    ((bbox_twice, segm_twice),) = twice
    assert sum(len(b) for b in bbox_single) >= 1
    for a, b, ma, mb in zip(bbox_single, bbox_twice, segm_single, segm_twice):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-4)
        assert all((x == y).all() for x, y in zip(ma, mb))
