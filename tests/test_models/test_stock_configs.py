"""MMDetection 2.x's stock Faster/Mask R-CNN configs: settings, checkpoint
layout (no backbone ``fc``) and strict loading of a model-zoo checkpoint."""

import json
import os.path as osp

import pytest
import torch
from mmcv import Config
from mmcv.runner import load_checkpoint

from mmdet.models import build_detector

ROOT = osp.dirname(osp.dirname(osp.dirname(__file__)))
REFERENCE = osp.join(ROOT, 'tests', 'data', 'reference')
STOCK = {
    'faster_rcnn_r50_fpn_1x_coco': 'faster_rcnn',
    'mask_rcnn_r50_fpn_1x_coco': 'mask_rcnn',
}


def load_stock(name):
    return Config.fromfile(
        osp.join(ROOT, 'configs', STOCK[name], name + '.py')
    )


def reference(name):
    with open(osp.join(REFERENCE, 'detectors_mmdet', name + '.json')) as f:
        shapes = {k: tuple(v) for k, v in json.load(f).items()}
    with open(osp.join(REFERENCE, 'params.json')) as f:
        params = json.load(f)['detectors_mmdet'][name]
    return shapes, params


@pytest.mark.parametrize('name', sorted(STOCK))
def test_stock_config_keys(name):
    cfg = load_stock(name)
    backbone = cfg.model.backbone
    assert backbone == dict(
        type='ResNet',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50'),
    )
    assert 'pretrained' not in cfg.model
    assert cfg.model.neck == dict(
        type='FPN',
        in_channels=[256, 512, 1024, 2048],
        out_channels=256,
        num_outs=5,
    )
    assert cfg.auto_scale_lr == dict(enable=False, base_batch_size=16)
    assert cfg.mp_start_method == 'fork' and cfg.opencv_num_threads == 0
    assert cfg.evaluation.metric == (
        'bbox' if name.startswith('faster') else ['bbox', 'segm']
    )
    assert 'find_unused_parameters' not in cfg


@pytest.mark.parametrize('name', sorted(STOCK))
def test_stock_layout_and_zoo_checkpoint_load_strictly(name, tmp_path):
    cfg = load_stock(name)
    cfg.model.backbone.init_cfg = None
    model = build_detector(cfg.model)
    shapes, params = reference(name)
    assert not any(k.startswith('backbone.fc') for k in model.state_dict())
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == shapes
    assert sum(p.numel() for p in model.parameters()) == params
    # a checkpoint in MMDetection's model-zoo format loads strictly and
    # restores every tensor
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    path = str(tmp_path / 'zoo.pth')
    meta = dict(mmdet_version='2.28.2', CLASSES=['c'] * 80)
    torch.save(dict(meta=meta, state_dict=model.state_dict()), path)
    fresh = build_detector(cfg.model)
    ckpt = load_checkpoint(fresh, path, map_location='cpu', strict=True)
    assert ckpt['meta']['mmdet_version'] == '2.28.2'
    fresh_sd = fresh.state_dict()
    for key, value in model.state_dict().items():
        assert torch.equal(fresh_sd[key], value), key
    # the two models now compute the same features
    model.eval()
    fresh.eval()
    img = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        feats, feats_fresh = model.extract_feat(img), fresh.extract_feat(img)
    assert len(feats) == 5
    assert all(torch.equal(a, b) for a, b in zip(feats, feats_fresh))


def test_odconv_resnet_config_keeps_fc():
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs', 'odconv', 'faster_rcnn_r50_fpn_1x_coco.py')
    )
    assert cfg.model.backbone.num_classes == 1000
    assert 'init_cfg' not in cfg.model.backbone
    with pytest.warns(UserWarning, match='pretrained is deprecated'):
        model = build_detector(cfg.model)
    assert model.backbone.fc.weight.shape == (1000, 2048)
