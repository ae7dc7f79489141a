"""Faster / Mask R-CNN end to end on tiny inputs: losses, gradients, test
results, the runner interface, and learning on one image."""

import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmcv import Config

from mmdet.core import BitmapMasks
from mmdet.models import build_detector

ROOT = osp.dirname(osp.dirname(osp.dirname(__file__)))
LOSS_KEYS = {'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'acc', 'loss_bbox'}
BACKBONES = (
    'r50',
    'odconv4x_r50',
    'mobilenetv2_100',
    'odconv4x_mobilenetv2_100',
)
CONFIGS = [
    f'{det}_rcnn_{bb}_fpn_1x_coco'
    for det in ('faster', 'mask')
    for bb in BACKBONES
]
NORM = dict(
    mean=np.array([123.675, 116.28, 103.53], dtype=np.float32),
    std=np.array([58.395, 57.12, 57.375], dtype=np.float32),
    to_rgb=True,
)


def model_cfg(name, **backbone):
    """The model of a released config, without ImageNet weights, with
    ``backbone`` settings overridden and 64 RoIs sampled per image instead
    of 512 (the mask head's convs on hundreds of RoIs would dominate the
    test time; the code path is the same)."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'odconv', name + '.py'))
    model = copy.deepcopy(cfg.model)
    model.pretrained = None
    model.backbone.update(backbone)
    model.train_cfg.rcnn.sampler.num = 64
    return model


def make_batch(shapes=((64, 64), (96, 64)), with_mask=False, seed=0):
    """A padded batch of random images with two boxes each (input pixels)
    and the metas a pipeline would give (scale factor 1)."""
    gen = torch.Generator().manual_seed(seed)
    pad_h = max(h for h, _ in shapes)
    pad_w = max(w for _, w in shapes)
    pad_h, pad_w = -(-pad_h // 32) * 32, -(-pad_w // 32) * 32
    img = torch.zeros(len(shapes), 3, pad_h, pad_w)
    metas, gt_bboxes, gt_labels, gt_masks = [], [], [], []
    for i, (h, w) in enumerate(shapes):
        img[i, :, :h, :w] = torch.randn(3, h, w, generator=gen)
        metas.append(
            dict(
                filename=f'img{i}.jpg',
                ori_filename=f'img{i}.jpg',
                img_shape=(h, w, 3),
                ori_shape=(h, w, 3),
                pad_shape=(pad_h, pad_w, 3),
                scale_factor=np.ones(4, dtype=np.float32),
                flip=False,
                flip_direction=None,
                img_norm_cfg=NORM,
            )
        )
        boxes = torch.tensor(
            [
                [4.0, 6.0, w * 0.6, h * 0.7],
                [w * 0.3, h * 0.4, w - 2.0, h - 3.0],
            ]
        )
        gt_bboxes.append(boxes)
        gt_labels.append(torch.tensor([i, 7 + i]))
        masks = np.zeros((2, pad_h, pad_w), dtype=np.uint8)
        for k, (x1, y1, x2, y2) in enumerate(boxes.int().tolist()):
            masks[k, y1:y2, x1:x2] = 1
        gt_masks.append(BitmapMasks(masks, pad_h, pad_w))
    batch = dict(
        img=img, img_metas=metas, gt_bboxes=gt_bboxes, gt_labels=gt_labels
    )
    if with_mask:
        batch['gt_masks'] = gt_masks
    return batch


def check_train_and_backward(model, with_mask):
    torch.manual_seed(0)
    model.train()
    losses = model(
        **make_batch(shapes=((64, 64), (48, 64)), with_mask=with_mask)
    )
    expected = LOSS_KEYS | ({'loss_mask'} if with_mask else set())
    assert set(losses) == expected
    for name, value in losses.items():
        # the RPN returns one loss per FPN level, as in MMDetection 2.x
        values = value if name.startswith('loss_rpn') else [value]
        assert len(values) == (5 if name.startswith('loss_rpn') else 1)
        assert all(
            isinstance(v, torch.Tensor) and torch.isfinite(v).all()
            for v in values
        ), name
    loss, log_vars = model._parse_losses(losses)
    loss.backward()
    missing = [
        name
        for name, p in model.named_parameters()
        if p.requires_grad
        and p.grad is None
        and not name.startswith(('backbone.fc.', 'backbone.classifier.'))
    ]
    assert not missing, f'no gradient reaches {missing[:5]}'
    frozen = [
        name for name, p in model.named_parameters() if not p.requires_grad
    ]
    assert frozen, 'frozen_stages=1 freezes the stem and the first stage'


@pytest.mark.parametrize('name', CONFIGS)
def test_forward_train_every_config(name):
    model = build_detector(model_cfg(name))
    check_train_and_backward(model, with_mask=name.startswith('mask'))


def narrow(cfg, channels=64, num_classes=80):
    """Shrink the FPN and heads of a detector config to ``channels``."""
    cfg.neck.out_channels = channels
    cfg.rpn_head.update(in_channels=channels, feat_channels=channels)
    roi_head = cfg.roi_head
    roi_head.bbox_roi_extractor.out_channels = channels
    roi_head.bbox_head.update(
        in_channels=channels, fc_out_channels=256, num_classes=num_classes
    )
    if 'mask_head' in roi_head:
        roi_head.mask_roi_extractor.out_channels = channels
        roi_head.mask_head.update(
            in_channels=channels,
            conv_out_channels=channels,
            num_classes=num_classes,
        )
    return cfg


def small_mask_rcnn(num_classes=80, **test_rcnn):
    """Mask R-CNN, MobileNetV2 0.5x, 64-channel FPN and heads."""
    cfg = model_cfg('mask_rcnn_mobilenetv2_100_fpn_1x_coco', width_mult=0.5)
    cfg.neck.in_channels = [16, 16, 48, 1280]
    narrow(cfg, num_classes=num_classes)
    cfg.test_cfg.rcnn.update(test_rcnn)
    return build_detector(cfg)


def test_simple_test_format_faster_rcnn():
    model = build_detector(
        model_cfg('faster_rcnn_mobilenetv2_100_fpn_1x_coco')
    )
    model.eval()
    batch = make_batch()
    with torch.no_grad():
        results = model(
            img=[batch['img']],
            img_metas=[batch['img_metas']],
            return_loss=False,
            rescale=True,
        )
    assert len(results) == 2
    for result in results:
        assert isinstance(result, list) and len(result) == 80
        for dets in result:
            assert (
                isinstance(dets, np.ndarray)
                and dets.ndim == 2
                and dets.shape[1] == 5
            )


def test_simple_test_masks_are_in_original_image_pixels():
    torch.manual_seed(0)
    model = small_mask_rcnn(num_classes=3, score_thr=0.0, max_per_img=10)
    model.eval()
    batch = make_batch(shapes=((64, 96), (64, 64)))
    # the network saw images twice the size of the originals
    for meta in batch['img_metas']:
        h, w = meta['img_shape'][:2]
        meta['ori_shape'] = (h // 2, w // 2, 3)
        meta['scale_factor'] = np.full(4, 2.0, dtype=np.float32)
    with torch.no_grad():
        rescaled = model.simple_test(
            batch['img'], batch['img_metas'], rescale=True
        )
        raw = model.simple_test(batch['img'], batch['img_metas'])
    assert len(rescaled) == 2
    for (bbox_res, segm_res), (raw_bbox, raw_segm), meta in zip(
        rescaled, raw, batch['img_metas']
    ):
        assert len(bbox_res) == len(segm_res) == 3
        ori_h, ori_w = meta['ori_shape'][:2]
        num = sum(len(b) for b in bbox_res)
        assert num == 10  # score_thr 0: max_per_img detections
        for boxes, masks, raw_boxes, raw_masks in zip(
            bbox_res, segm_res, raw_bbox, raw_segm
        ):
            assert len(masks) == len(boxes) == len(raw_masks)
            np.testing.assert_allclose(
                boxes[:, :4], raw_boxes[:, :4] / 2, rtol=1e-5, atol=1e-4
            )
            np.testing.assert_allclose(boxes[:, 4], raw_boxes[:, 4])
            assert (boxes[:, [0, 2]] <= ori_w + 1e-4).all()
            assert (boxes[:, [1, 3]] <= ori_h + 1e-4).all()
            for mask, raw_mask in zip(masks, raw_masks):
                assert mask.shape == (ori_h, ori_w) and mask.dtype == bool
                assert raw_mask.shape == (2 * ori_h, 2 * ori_w)


def test_aug_test_merges_augmentations():
    torch.manual_seed(0)
    model = small_mask_rcnn(num_classes=3, score_thr=0.0, max_per_img=10)
    model.eval()
    batch = make_batch(shapes=((64, 96),))
    img, meta = batch['img'], batch['img_metas'][0]
    flipped_meta = dict(meta, flip=True, flip_direction='horizontal')
    with torch.no_grad():
        single = model.aug_test([img], [[dict(meta)]], rescale=True)
        # two identical augmentations merge into the same result
        twice = model(
            img=[img, img],
            img_metas=[[dict(meta)], [dict(meta)]],
            return_loss=False,
            rescale=True,
        )
        flips = model(
            img=[img, img.flip(-1)],
            img_metas=[[dict(meta)], [flipped_meta]],
            return_loss=False,
            rescale=True,
        )
    assert len(single) == len(twice) == len(flips) == 1
    for a, b in zip(single[0][0], twice[0][0]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-4)
    bbox_result, segm_result = flips[0]
    assert sum(len(b) for b in bbox_result) == 10
    for boxes, masks in zip(bbox_result, segm_result):
        assert (boxes[:, 2] <= 96 + 1e-4).all()
        assert all(m.shape == (64, 96) for m in masks)


def test_runner_interface_and_dispatch(tmp_path):
    model = small_mask_rcnn()
    batch = make_batch(with_mask=True)
    outputs = model.train_step(batch, optimizer=None)
    assert set(outputs) == {'loss', 'log_vars', 'num_samples'}
    assert outputs['num_samples'] == 2
    log_vars = outputs['log_vars']
    assert set(log_vars) == LOSS_KEYS | {'loss_mask', 'loss'}
    assert all(isinstance(v, float) for v in log_vars.values())
    # the total sums the entries named loss*, not the accuracy
    assert log_vars['loss'] == pytest.approx(
        sum(v for k, v in log_vars.items() if k.startswith('loss_')), rel=1e-5
    )
    assert outputs['loss'].requires_grad

    loss, parsed = model._parse_losses(
        dict(
            loss_a=[torch.tensor(1.0), torch.tensor([2.0, 4.0])],
            acc=torch.tensor(50.0),
        )
    )
    assert loss.item() == 4.0 and parsed == dict(
        loss_a=4.0, acc=50.0, loss=4.0
    )
    with pytest.raises(TypeError):
        model._parse_losses(dict(loss_a=1.0))

    model.eval()
    with pytest.raises(TypeError):
        model(
            img=batch['img'], img_metas=batch['img_metas'], return_loss=False
        )
    with torch.no_grad():
        assert set(model.val_step(batch)['log_vars']) == set(log_vars)
        result = model(
            img=[batch['img']],
            img_metas=[batch['img_metas']],
            return_loss=False,
            rescale=True,
        )
    assert len(result) == 2 and isinstance(result[0], tuple)
    assert batch['img_metas'][0]['batch_input_shape'] == (96, 64)

    # drawing a result through mmdet.core.visualization
    model.CLASSES = tuple(f'c{i}' for i in range(80))
    img = np.zeros((64, 64, 3), dtype=np.uint8)
    fake = ([np.zeros((0, 5), dtype=np.float32)] * 80, [[] for _ in range(80)])
    fake[0][3] = np.array([[5.0, 5.0, 30.0, 40.0, 0.9]], dtype=np.float32)
    fake[1][3] = [np.pad(np.ones((20, 20), dtype=bool), ((5, 39), (5, 39)))]
    drawn = model.show_result(img, fake, score_thr=0.3)
    assert drawn.shape == img.shape and drawn.any()
    out_file = str(tmp_path / 'vis.jpg')
    assert model.show_result(img, fake, out_file=out_file) is None
    assert osp.exists(out_file)


def test_a_few_sgd_steps_fit_one_image():
    """Faster R-CNN on a ResNet-18 with a narrow FPN and 3 classes learns a
    single image with one bright box: the loss falls below half."""
    torch.manual_seed(0)
    cfg = model_cfg('faster_rcnn_r50_fpn_1x_coco', depth=18, frozen_stages=-1)
    cfg.neck.in_channels = [64, 128, 256, 512]
    model = build_detector(narrow(cfg, num_classes=3))
    model.init_weights()
    model.train()
    batch = make_batch(shapes=((64, 64),))
    batch['img'].fill_(-1.5)
    batch['img'][:, :, 12:44, 10:50] = 1.5
    batch['gt_bboxes'] = [torch.tensor([[10.0, 12.0, 50.0, 44.0]])]
    batch['gt_labels'] = [torch.tensor([2])]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    history = []
    for _ in range(20):
        optimizer.zero_grad()
        outputs = model.train_step(batch, optimizer)
        outputs['loss'].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        optimizer.step()
        history.append(outputs['log_vars']['loss'])
    # the box loss is noisy from step to step: average the last three
    assert np.mean(history[-3:]) < 0.5 * history[0], history


def test_unknown_train_and_test_settings_are_errors():
    cfg = model_cfg('faster_rcnn_mobilenetv2_100_fpn_1x_coco')
    bad = copy.deepcopy(cfg)
    bad.train_cfg.rpn_proposals = bad.train_cfg.pop('rpn_proposal')
    with pytest.raises(KeyError, match='rpn_proposals'):
        build_detector(bad)
    bad = copy.deepcopy(cfg)
    bad.test_cfg.rcnn.max_per_image = 100
    with pytest.raises(KeyError, match='max_per_image'):
        build_detector(bad)
