"""The 8 released configs: their settings, parameter counts, checkpoint
layout and strict loading."""

import json
import os.path as osp

import pytest
import torch
from mmcv import Config
from mmcv.runner import load_checkpoint

from mmdet.models import build_detector

ROOT = osp.dirname(osp.dirname(osp.dirname(__file__)))
REFERENCE = osp.join(ROOT, 'tests', 'data', 'reference')
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
PRETRAINED = {
    'r50': 'resnet50',
    'odconv4x_r50': 'od_resnet50_4x',
    'mobilenetv2_100': 'mobilenetv2_100',
    'odconv4x_mobilenetv2_100': 'od_mobilenetv2_100_4x',
}


def load_cfg(name):
    return Config.fromfile(osp.join(ROOT, 'configs', 'odconv', name + '.py'))


def reference_shapes(name):
    with open(osp.join(REFERENCE, 'detectors', name + '.json')) as f:
        return {k: tuple(v) for k, v in json.load(f).items()}


def reference_params(name):
    with open(osp.join(REFERENCE, 'params.json')) as f:
        return json.load(f)['detectors'][name]


@pytest.mark.parametrize('name', CONFIGS)
def test_config_settings(name):
    cfg = load_cfg(name)
    det, backbone = name.split('_rcnn_')[0], name.split('_rcnn_')[1][:-12]
    model = cfg.model
    assert model.type == ('FasterRCNN' if det == 'faster' else 'MaskRCNN')
    assert (
        model.pretrained == f'checkpoints/imagenet/{PRETRAINED[backbone]}.pth'
    )
    assert cfg.find_unused_parameters is True
    assert model.backbone.norm_eval is True
    assert model.backbone.frozen_stages == 1
    if 'r50' in backbone:
        assert model.backbone.depth == 50
        assert tuple(model.backbone.out_indices) == (0, 1, 2, 3)
        assert model.neck.in_channels == [256, 512, 1024, 2048]
    else:
        assert model.backbone.width_mult == 1.0
        assert tuple(model.backbone.out_indices) == (1, 2, 3, 4)
        assert model.neck.in_channels == [24, 32, 96, 1280]
        assert 'depth' not in model.backbone
    if 'odconv4x' in backbone:
        assert model.backbone.type.startswith('OD_')
        assert model.backbone.kernel_num == 4
        assert model.backbone.reduction == 0.0625
    else:
        assert not model.backbone.type.startswith('OD_')
    rcnn_assigner = model.train_cfg.rcnn.assigner
    assert rcnn_assigner.match_low_quality is (det == 'mask')
    assert model.train_cfg.rpn_proposal.nms_pre == 2000
    assert model.test_cfg.rpn.nms_pre == 1000
    assert model.test_cfg.rcnn.max_per_img == 100
    assert model.roi_head.bbox_head.num_classes == 80
    if det == 'mask':
        assert model.train_cfg.rcnn.mask_size == 28
        assert model.test_cfg.rcnn.mask_thr_binary == 0.5
        assert model.roi_head.mask_roi_extractor.roi_layer.output_size == 14
    # the data and schedule come from the shared bases
    assert cfg.optimizer.lr == 0.02
    assert cfg.runner.max_epochs == 12
    assert 'train' in cfg.data and 'test' in cfg.data


@pytest.mark.parametrize('name', CONFIGS)
def test_params_and_state_dict_layout_match_release(name, tmp_path):
    cfg = load_cfg(name)
    model = build_detector(cfg.model)
    assert sum(p.numel() for p in model.parameters()) == reference_params(name)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes == reference_shapes(name)
    # a released-style checkpoint (mmcv format) loads strictly into a
    # fresh model and restores every tensor
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    path = str(tmp_path / 'ckpt.pth')
    torch.save(
        dict(meta=dict(CLASSES=['a'] * 80), state_dict=model.state_dict()),
        path,
    )
    fresh = build_detector(cfg.model)
    ckpt = load_checkpoint(fresh, path, map_location='cpu', strict=True)
    assert ckpt['meta']['CLASSES'][0] == 'a'
    for key, value in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value), key


def test_pretrained_is_handed_to_the_backbone_with_a_warning():
    cfg = load_cfg('faster_rcnn_mobilenetv2_100_fpn_1x_coco')
    with pytest.warns(UserWarning, match='pretrained is deprecated'):
        model = build_detector(cfg.model)
    assert model.backbone.pretrained == cfg.model.pretrained
