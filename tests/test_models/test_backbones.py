"""Backbones: exact parameter counts and checkpoint layout, freezing,
norm_eval, strict loading of ImageNet checkpoints, output shapes."""

import json
import os.path as osp
from collections import OrderedDict

import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from mmdet.models import build_backbone

REF = osp.join(osp.dirname(osp.dirname(__file__)), 'data', 'reference')
PARAMS = json.load(open(osp.join(REF, 'params.json')))['backbones']


@pytest.mark.parametrize('name', sorted(PARAMS))
def test_params_and_state_dict_match_reference(name):
    entry = PARAMS[name]
    cfg = dict(entry['config'])
    if cfg['type'] == 'ResNet':
        # the classification layout with fc; MMDetection's default has none
        cfg['num_classes'] = 1000
    model = build_backbone(cfg)
    assert sum(p.numel() for p in model.parameters()) == entry['params']
    with open(osp.join(REF, 'backbones', f'{name}.json')) as f:
        reference = json.load(f)
    layout = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert layout == reference


def test_unknown_backbone_type_lists_registered():
    with pytest.raises(KeyError, match="'ResNt'.*Did you mean 'ResNet'"):
        build_backbone(dict(type='ResNt', depth=50))


def test_unknown_argument_is_an_error():
    with pytest.raises(TypeError, match='unexpected keyword'):
        build_backbone(dict(type='MobileNetV2', widht_mult=1.0))
    # MMDetection 2.28's arguments build its own layout (see
    # test_mmdet_backbones.py); mixing them with the ODConv release's is
    # refused
    with pytest.raises(TypeError, match="ODConv release's.*width_mult"):
        build_backbone(
            dict(type='MobileNetV2', width_mult=1.0, widen_factor=1.0)
        )


SMALL = [
    dict(type='ResNet', depth=18),
    dict(type='OD_ResNet', depth=18, kernel_num=2),
    dict(type='MobileNetV2', width_mult=0.5),
    dict(type='OD_MobileNetV2', width_mult=0.5, kernel_num=2),
]


@pytest.mark.parametrize('cfg', SMALL, ids=lambda c: c['type'])
def test_frozen_stages_stay_frozen_in_train_mode(cfg):
    model = build_backbone(dict(cfg, frozen_stages=1, norm_eval=False))
    model.train()
    frozen = model._frozen_modules()
    assert frozen
    frozen_params = {id(p) for m in frozen for p in m.parameters()}
    for p in model.parameters():
        assert p.requires_grad == (id(p) not in frozen_params)
    for m in frozen:
        for sub in m.modules():
            assert not sub.training
    # the rest trains
    assert any(
        m.training for m in model.modules() if isinstance(m, _BatchNorm)
    )


def _bn_stats(model):
    return [
        (m.running_mean.clone(), m.running_var.clone())
        for m in model.modules()
        if isinstance(m, _BatchNorm)
    ]


@pytest.mark.parametrize('cfg', SMALL, ids=lambda c: c['type'])
@pytest.mark.parametrize('norm_eval', [True, False])
def test_norm_eval_keeps_running_stats(cfg, norm_eval):
    torch.manual_seed(0)
    model = build_backbone(dict(cfg, norm_eval=norm_eval))
    model.train()
    before = _bn_stats(model)
    opt = torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=0.01
    )
    loss = sum(o.mean() for o in model(torch.rand(2, 3, 32, 32)))
    loss.backward()
    opt.step()
    after = _bn_stats(model)
    unchanged = all(
        torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
        for a, b in zip(before, after)
    )
    assert unchanged == norm_eval


@pytest.fixture(scope='module')
def od_mnv2_source():
    torch.manual_seed(1)
    model = build_backbone(
        dict(type='OD_MobileNetV2', width_mult=0.5, kernel_num=2)
    )
    model.init_weights()
    with torch.no_grad():  # BN statistics that differ from a fresh model
        for m in model.modules():
            if isinstance(m, _BatchNorm):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return model.eval()


@pytest.mark.parametrize('layout', ['bare', 'state_dict', 'module_prefix'])
def test_pretrained_loads_strictly(tmp_path, od_mnv2_source, layout):
    sd = od_mnv2_source.state_dict()
    if layout == 'state_dict':
        obj = {'state_dict': sd, 'epoch': 90, 'best_acc1': 70.0}
    elif layout == 'module_prefix':
        obj = {
            'state_dict': OrderedDict(
                ('module.' + k, v) for k, v in sd.items()
            )
        }
    else:
        obj = sd
    path = str(tmp_path / 'imagenet.pth')
    torch.save(obj, path)
    model = build_backbone(
        dict(
            type='OD_MobileNetV2',
            width_mult=0.5,
            kernel_num=2,
            pretrained=path,
        )
    ).eval()
    x = torch.rand(2, 3, 32, 32)
    before = model(x)
    model.init_weights()
    outs, want = model(x), od_mnv2_source(x)
    assert all(torch.equal(o, w) for o, w in zip(outs, want))
    assert not all(torch.equal(o, w) for o, w in zip(before, want))


def test_pretrained_missing_and_extra_keys_are_named(tmp_path, od_mnv2_source):
    sd = dict(od_mnv2_source.state_dict())
    missing = sd.pop('features.5.conv.1.0.weight')
    path = str(tmp_path / 'missing.pth')
    torch.save(sd, path)
    cfg = dict(type='OD_MobileNetV2', width_mult=0.5, kernel_num=2)
    with pytest.raises(
        RuntimeError, match='(?s)missing keys.*features.5.conv'
    ):
        build_backbone(dict(cfg, pretrained=path)).init_weights()
    sd['features.5.conv.1.0.weight'] = missing
    sd['head.extra.weight'] = torch.zeros(3)
    torch.save(sd, path)
    with pytest.raises(
        RuntimeError, match='(?s)unexpected keys.*head.extra.weight'
    ):
        build_backbone(dict(cfg, pretrained=path)).init_weights()
    del sd['head.extra.weight']
    sd['classifier.1.bias'] = torch.zeros(10)
    torch.save(sd, path)
    with pytest.raises(RuntimeError, match='(?s)shape.*classifier.1.bias'):
        build_backbone(dict(cfg, pretrained=path)).init_weights()


def test_pretrained_missing_file_names_path(tmp_path):
    path = str(tmp_path / 'nowhere' / 'r18.pth')
    model = build_backbone(dict(type='ResNet', depth=18, pretrained=path))
    with pytest.raises(FileNotFoundError, match='nowhere/r18.pth'):
        model.init_weights()


def test_pretrained_refuses_code_in_pickle(tmp_path):

    class Evil:
        def __reduce__(self):
            return (print, ('pwned',))

    path = str(tmp_path / 'evil.pth')
    torch.save({'state_dict': {'x': Evil()}}, path)
    model = build_backbone(dict(type='ResNet', depth=18, pretrained=path))
    with pytest.raises(Exception, match='(?i)weights.only|unsupported'):
        model.init_weights()


@pytest.mark.parametrize(
    'cfg,channels',
    [
        (dict(type='ResNet', depth=18), [64, 128, 256, 512]),
        (dict(type='OD_ResNet', depth=18, kernel_num=2), [64, 128, 256, 512]),
        (
            dict(
                type='MobileNetV2', width_mult=1.0, out_indices=(0, 1, 2, 3, 4)
            ),
            [16, 24, 32, 96, 1280],
        ),
        (
            dict(
                type='OD_MobileNetV2', width_mult=0.5, out_indices=(1, 2, 3, 4)
            ),
            [16, 16, 48, 1280],
        ),
    ],
)
def test_output_shapes_and_strides(cfg, channels):
    model = build_backbone(cfg).eval()
    outs = model(torch.rand(1, 3, 64, 96))
    assert [o.shape[1] for o in outs] == channels == model.out_channels
    strides = [64 // o.shape[2] for o in outs]
    assert strides == [96 // o.shape[3] for o in outs]
    expected = [2, 4, 8, 16, 32] if len(outs) == 5 else [4, 8, 16, 32]
    assert strides == expected


def test_resnet50_output_channels():
    model = build_backbone(dict(type='ResNet', depth=50)).eval()
    outs = model(torch.rand(1, 3, 64, 64))
    assert [o.shape[1:] for o in outs] == [
        (256, 16, 16),
        (512, 8, 8),
        (1024, 4, 4),
        (2048, 2, 2),
    ]
