"""Pretrained weights by name (torchvision://, open-mmlab://, URLs) through
torch's hub cache, never touching the network in tests."""

import os.path as osp

import pytest
import torch
import torchvision
from mmcv import Config

from mmdet.models import build_backbone, build_detector
from mmdet.utils import model_zoo

ROOT = osp.dirname(osp.dirname(osp.dirname(__file__)))
R50_URL = 'https://download.pytorch.org/models/resnet50-0676ba61.pth'
CAFFE_URL = (
    'https://download.openmmlab.com/pretrain/third_party/'
    'resnet50_msra-5891d200.pth'
)


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An empty ``$TORCH_HOME`` and a downloader that records its calls and
    fails (as offline); returns (checkpoints dir, calls)."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    monkeypatch.setattr(torch.hub, '_hub_dir', None)
    calls = []

    def offline(url, dst, *args, **kwargs):
        calls.append(url)
        raise OSError('network is unreachable')

    monkeypatch.setattr(torch.hub, 'download_url_to_file', offline)
    return tmp_path / 'torch' / 'hub' / 'checkpoints', calls


def test_names_resolve_as_mmcv_does():
    assert model_zoo.checkpoint_url('torchvision://resnet50') == R50_URL
    assert model_zoo.checkpoint_url('modelzoo://resnet50') == R50_URL
    assert (
        model_zoo.checkpoint_url('open-mmlab://detectron2/resnet50_caffe')
        == CAFFE_URL
    )
    v2 = model_zoo.checkpoint_url(
        'torchvision://ResNet50_Weights.IMAGENET1K_V2'
    )
    assert v2.endswith('.pth') and v2 != R50_URL
    assert model_zoo.checkpoint_url('a/b.pth') == 'a/b.pth'
    with pytest.raises(KeyError, match='torchvision://resnet51'):
        model_zoo.checkpoint_url('torchvision://resnet51')


@pytest.fixture(scope='module')
def r50_hub(tmp_path_factory):
    """A ``$TORCH_HOME`` whose hub cache holds a torchvision-format
    ResNet-50 (random weights) under the file name of
    ``torchvision://resnet50``; returns (TORCH_HOME, state dict)."""
    torch.manual_seed(0)
    model = torchvision.models.resnet50()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
    home = tmp_path_factory.mktemp('torch_home')
    cache = home / 'hub' / 'checkpoints'
    cache.mkdir(parents=True)
    torch.save(model.state_dict(), str(cache / osp.basename(R50_URL)))
    return str(home), model.state_dict()


@pytest.mark.parametrize('with_fc', [False, True])
def test_torchvision_weights_from_the_hub_cache(
    hub, r50_hub, monkeypatch, with_fc
):
    _, calls = hub
    home, weights = r50_hub
    monkeypatch.setenv('TORCH_HOME', home)
    cfg = dict(
        type='ResNet',
        depth=50,
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50'),
    )
    if with_fc:
        cfg['num_classes'] = 1000
    model = build_backbone(cfg)
    model.init_weights()
    assert calls == []
    state = model.state_dict()
    assert ('fc.weight' in state) == with_fc
    for key, value in state.items():
        assert torch.equal(value, weights[key]), key


def test_stock_config_initialises_from_the_hub_cache(
    hub, r50_hub, monkeypatch
):
    _, calls = hub
    home, weights = r50_hub
    monkeypatch.setenv('TORCH_HOME', home)
    cfg = Config.fromfile(
        osp.join(
            ROOT, 'configs', 'faster_rcnn', 'faster_rcnn_r50_fpn_1x_coco.py'
        )
    )
    model = build_detector(cfg.model)
    model.init_weights()
    assert calls == []
    assert torch.equal(
        model.backbone.layer4[2].conv3.weight, weights['layer4.2.conv3.weight']
    )
    assert torch.equal(
        model.backbone.bn1.running_mean, weights['bn1.running_mean']
    )


def test_open_mmlab_name_and_pretrained_argument(hub):
    cache, calls = hub
    cache.mkdir(parents=True)
    source = build_backbone(dict(type='ResNet', depth=18, style='caffe'))
    with torch.no_grad():
        source.conv1.weight.add_(1.0)
    torch.save(
        dict(state_dict=source.state_dict()),
        str(cache / osp.basename(CAFFE_URL)),
    )
    model = build_backbone(
        dict(
            type='ResNet',
            depth=18,
            style='caffe',
            pretrained='open-mmlab://detectron2/resnet50_caffe',
        )
    )
    model.init_weights()
    assert calls == []
    assert torch.equal(model.conv1.weight, source.conv1.weight)


def test_offline_error_names_url_and_path(hub):
    cache, calls = hub
    model = build_backbone(
        dict(
            type='ResNet',
            depth=18,
            init_cfg=dict(
                type='Pretrained', checkpoint='torchvision://resnet18'
            ),
        )
    )
    with pytest.raises(model_zoo.PretrainedDownloadError) as err:
        model.init_weights()
    url = model_zoo.checkpoint_url('torchvision://resnet18')
    assert calls == [url]
    message = str(err.value)
    assert url in message
    assert str(cache / osp.basename(url)) in message
    assert 'network is unreachable' in message


def test_download_happens_once(hub, monkeypatch):
    cache, _ = hub
    calls = []
    weights = build_backbone(dict(type='ResNet', depth=18)).state_dict()

    def fake_download(url, dst, *args, **kwargs):
        calls.append(url)
        torch.save(weights, dst)

    monkeypatch.setattr(torch.hub, 'download_url_to_file', fake_download)
    url = 'https://example.com/models/r18.pth?dl=1'
    for _ in range(2):
        path = model_zoo.checkpoint_file(url)
    assert calls == [url]
    assert path == str(cache / 'r18.pth')
    model = build_backbone(dict(type='ResNet', depth=18, pretrained=url))
    model.init_weights()
    assert calls == [url]
