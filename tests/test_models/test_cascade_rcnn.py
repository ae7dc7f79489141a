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

from mmdet.models import build_detector, build_head
from test_detectors import make_batch

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
    assert stds == [[0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1, 0.1],
                    [0.033, 0.033, 0.067, 0.067]]
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
    stage2 = Config.fromfile(config_path(ODCONV[0])).model.roi_head \
        .bbox_head[1]
    head = build_head(stage2)
    rois = torch.tensor(ref['rois'])
    deltas = torch.tensor(ref['deltas'])
    refined = head.regress_by_class(rois, torch.zeros(2, dtype=torch.long),
                                    deltas, dict(img_shape=(100, 120, 3)))
    np.testing.assert_allclose(refined.numpy(), np.array(ref['refined']),
                               atol=1e-4)


def check_losses_and_gradients(model, with_mask):
    """Per-stage losses exist, are finite, and every trainable parameter
    gets a gradient from their sum."""
    torch.manual_seed(0)
    model.train()
    losses = model(**make_batch(shapes=((64, 64), (48, 64)),
                                with_mask=with_mask))
    stage_keys = {'loss_cls', 'acc', 'loss_bbox'} | \
        ({'loss_mask'} if with_mask else set())
    expected = {'loss_rpn_cls', 'loss_rpn_bbox'} | {
        f's{i}.{k}' for i in range(3) for k in stage_keys}
    assert set(losses) == expected
    for key, value in losses.items():
        assert torch.isfinite(value).all(), key
    loss, _ = model._parse_losses(losses)
    model.zero_grad()
    loss.backward()
    missing = [
        name for name, p in model.named_parameters()
        if p.requires_grad and p.grad is None and
        not name.startswith(('backbone.fc.', 'backbone.classifier.'))
    ]
    assert not missing, f'no gradient reaches {missing[:5]}'
    for stage in range(3):
        grad = model.roi_head.bbox_head[stage].fc_cls.weight.grad
        assert grad.abs().sum() > 0, stage


def check_result_format(model, with_mask, num_classes=80):
    model.eval()
    batch = make_batch(shapes=((64, 64), (48, 64)))
    with torch.no_grad():
        results = model(img=[batch['img']], img_metas=[batch['img_metas']],
                        return_loss=False, rescale=True)
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
