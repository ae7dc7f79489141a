"""Faster / Mask R-CNN on C4 (the stock ``*_r50_caffe_c4_1x_coco``
configs): one feature map at stride 16, RoIs through the shared head
``ResLayer`` (ResNet's ``layer4``) before the box and mask heads."""

import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmcv import Config

from mmdet.core import BitmapMasks
from mmdet.models import build_detector

ROOT = osp.dirname(osp.dirname(osp.dirname(__file__)))


def c4_model(kind):
    path = osp.join(
        ROOT, 'configs', f'{kind}_rcnn', f'{kind}_rcnn_r50_caffe_c4_1x_coco.py'
    )
    model = copy.deepcopy(Config.fromfile(path).model)
    model.backbone.init_cfg = None
    model.roi_head.shared_head.init_cfg = None
    # fewer RoIs through the (costly) shared head: a faster test
    model.train_cfg.rcnn.sampler.num = 8
    model.train_cfg.rpn_proposal.update(nms_pre=200, max_per_img=32)
    model.test_cfg.rpn.update(nms_pre=200, max_per_img=16)
    detector = build_detector(model)
    detector.init_weights()
    return detector


def batch(with_mask):
    """One 64x96 image with two boxes (and box-shaped masks)."""
    gen = torch.Generator().manual_seed(0)
    h, w = 64, 96
    boxes = torch.tensor([[4.0, 6.0, 50.0, 44.0], [30.0, 20.0, 90.0, 60.0]])
    masks = np.zeros((2, h, w), dtype=np.uint8)
    for k, (x1, y1, x2, y2) in enumerate(boxes.int().tolist()):
        masks[k, y1:y2, x1:x2] = 1
    meta = dict(
        img_shape=(h, w, 3),
        ori_shape=(h, w, 3),
        pad_shape=(h, w, 3),
        scale_factor=np.ones(4, dtype=np.float32),
        flip=False,
    )
    out = dict(
        img=torch.randn(1, 3, h, w, generator=gen),
        img_metas=[meta],
        gt_bboxes=[boxes],
        gt_labels=[torch.tensor([1, 5])],
    )
    if with_mask:
        out['gt_masks'] = [BitmapMasks(masks, h, w)]
    return out


@pytest.mark.parametrize('kind', ['faster', 'mask'])
def test_c4_train_step_reaches_the_shared_head(kind):
    torch.manual_seed(0)
    model = c4_model(kind)
    assert model.with_shared_head and not model.with_neck
    model.train()
    # norm_eval: the shared head's BatchNorms stay frozen while training
    assert not model.roi_head.shared_head.layer4[0].bn1.training
    losses = model(**batch(with_mask=kind == 'mask'))
    expected = {'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'acc'}
    expected |= {'loss_bbox'} | ({'loss_mask'} if kind == 'mask' else set())
    assert set(losses) == expected
    loss, _ = model._parse_losses(losses)
    assert torch.isfinite(loss)
    loss.backward()
    conv = model.roi_head.shared_head.layer4[0].conv2
    assert conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0


def test_c4_mask_head_reads_shared_head_features():
    model = c4_model('mask').eval()
    rois = torch.tensor([[0.0, 2.0, 3.0, 40.0, 50.0]])
    x = model.extract_feat(batch(with_mask=False)['img'])
    assert len(x) == 1 and x[0].shape == (1, 1024, 4, 6)
    with torch.no_grad():
        bbox = model.roi_head._bbox_forward(x, rois)
        mask = model.roi_head._mask_forward(x, rois)
    assert bbox['bbox_feats'].shape == (1, 2048, 7, 7)
    assert bbox['cls_score'].shape == (1, 81)
    assert mask['mask_feats'].shape == (1, 2048, 7, 7)
    assert mask['mask_pred'].shape == (1, 80, 14, 14)


@pytest.mark.parametrize('kind', ['faster', 'mask'])
def test_c4_simple_test_format(kind):
    model = c4_model(kind).eval()
    data = batch(with_mask=False)
    with torch.no_grad():
        result = model.simple_test(data['img'], data['img_metas'])
    bboxes = result[0][0] if kind == 'mask' else result[0]
    assert len(bboxes) == 80
    assert all(b.shape[1] == 5 for b in bboxes)
    if kind == 'mask':
        assert len(result[0][1]) == 80
