"""ODConv as an mmcv conv type: ``conv_cfg=dict(type='ODConv', ...)``
builds ``ODConv2d`` layers (with a bias where the module asks for one),
equal to a directly built ``ODConv2d`` with the same weights, and the
temperature hook reaches them outside the backbone."""

import json
import os.path as osp

import pytest
import torch
from mmcv.cnn import ConvModule, build_conv_layer
from mmcv.utils import Config

from mmdet.core.hook.odconv_temperature import set_temperature
from mmdet.models import build_detector, build_neck
from mmdet.models.backbones.odconv import ODConv2d

ROOT = osp.dirname(osp.dirname(osp.dirname(__file__)))
ODCONV = dict(type='ODConv', kernel_num=4, reduction=0.0625)


def test_build_conv_layer_equals_odconv2d():
    torch.manual_seed(0)
    layer = build_conv_layer(
        ODCONV, 16, 24, 3, stride=2, padding=2, dilation=2, bias=False
    )
    direct = ODConv2d(16, 24, 3, stride=2, padding=2, dilation=2)
    assert type(layer) is ODConv2d
    # the released key layout: no bias entry without bias
    assert layer.state_dict().keys() == direct.state_dict().keys()
    assert 'bias' not in layer.state_dict()
    direct.load_state_dict(layer.state_dict())
    layer.eval(), direct.eval()
    x = torch.randn(2, 16, 13, 11)
    torch.testing.assert_close(layer(x), direct(x))


def test_bias_adds_per_channel_offset():
    torch.manual_seed(0)
    with_bias = build_conv_layer(ODCONV, 8, 6, 3, padding=1, bias=True)
    plain = ODConv2d(8, 6, 3, padding=1)
    state = with_bias.state_dict()
    assert state['bias'].shape == (6,)
    plain.load_state_dict({k: v for k, v in state.items() if k != 'bias'})
    with torch.no_grad():
        with_bias.bias.copy_(torch.arange(6.0))
    with_bias.eval(), plain.eval()
    x = torch.randn(2, 8, 7, 7)
    expected = plain(x) + torch.arange(6.0)[:, None, None]
    torch.testing.assert_close(with_bias(x), expected)
    with_bias(x).sum().backward()
    assert with_bias.bias.grad is not None


def test_conv_module_with_norm_has_no_bias():
    module = ConvModule(
        8, 8, 3, padding=1, conv_cfg=ODCONV, norm_cfg=dict(type='BN')
    )
    assert isinstance(module.conv, ODConv2d)
    assert 'bias' not in dict(module.conv.named_parameters())
    assert module.conv.weight.shape == (4, 8, 8, 3, 3)
    assert module(torch.randn(2, 8, 5, 5)).shape == (2, 8, 5, 5)


def test_fpn_with_odconv_and_hook_reaches_it():
    neck = build_neck(
        dict(
            type='FPN',
            in_channels=[8, 16],
            out_channels=8,
            num_outs=3,
            conv_cfg=ODCONV,
        )
    )
    layers = [m for m in neck.modules() if isinstance(m, ODConv2d)]
    assert len(layers) == 4  # two lateral and two fpn convs
    assert all('bias' in dict(m.named_parameters()) for m in layers)
    feats = [torch.randn(2, 8, 16, 16), torch.randn(2, 16, 8, 8)]
    assert [o.shape[-1] for o in neck(feats)] == [16, 8, 4]
    assert set_temperature(neck, 7.0) == 4
    assert {m.temperature for m in layers} == {7.0}


def odconv_extra_params(c_in, c_out, k, kernel_num=4):
    """Parameters an ODConv (with bias, reduction 1/16) adds over a plain
    conv with bias: K kernels, and the attention's squeeze (fc + BN) and
    heads (channel, filter, spatial for k > 1, kernel)."""
    hidden = max(int(c_in * 0.0625), 16)
    heads = c_in + c_out + (k * k if k > 1 else 0) + kernel_num
    attention = c_in * hidden + 2 * hidden + (hidden + 1) * heads
    return (kernel_num - 1) * c_out * c_in * k * k + attention


HEAD_EXTRA = 8 * odconv_extra_params(256, 256, 3)
NECK_EXTRA = 4 * odconv_extra_params(256, 256, 3) + sum(
    odconv_extra_params(c, 256, 1) for c in (256, 512, 1024, 2048)
)


@pytest.mark.parametrize(
    'name, where, count, extra',
    [
        (
            'retinanet_odconv4x_r50_fpn-odconv_head_1x_coco',
            'bbox_head',
            8,
            HEAD_EXTRA,
        ),
        (
            'mask_rcnn_odconv4x_r50_fpn-odconv_neck_1x_coco',
            'neck',
            8,
            NECK_EXTRA,
        ),
    ],
)
def test_configs_put_odconv_outside_backbone(name, where, count, extra):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'odconv', name + '.py'))
    cfg.model.pretrained = None
    model = build_detector(cfg.model)
    part = getattr(model, where)
    layers = [m for m in part.modules() if isinstance(m, ODConv2d)]
    assert len(layers) == count
    # the plain-ODConv config's reference count plus the formula's
    with open(
        osp.join(ROOT, 'tests', 'data', 'reference', 'params.json')
    ) as f:
        base = json.load(f)['detectors'][name.split('-')[0] + '_1x_coco']
    params = sum(p.numel() for p in model.parameters())
    assert params == base + extra
    # the hook's walk over the whole model sets them with the backbone's
    total = set_temperature(model, 3.0)
    assert total > count
    assert {m.temperature for m in layers} == {3.0}


@pytest.mark.slow
@pytest.mark.parametrize(
    'name', ['retinanet_odconv-head', 'mask_rcnn_odconv-neck']
)
def test_quickstart_variant_learns_on_tiny_set(name, tmp_path):
    """8 Adam steps on one batch of the generated tiny set (Adam: the
    quick-start SGD schedule barely moves in 8 steps): the loss falls and
    the ODConv layers outside the backbone get gradients."""
    from mmdet.datasets import build_dataloader, build_dataset
    from mmdet.testing.tiny_coco import make_tiny_coco

    torch.manual_seed(0)
    make_tiny_coco(str(tmp_path), seed=0, num_train=4, num_val=1, size=64)
    config = f'{name}_mobilenetv2_tiny_coco.py'
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'quickstart', config))
    cfg.data.train.ann_file = str(
        tmp_path / 'annotations' / 'instances_train.json'
    )
    cfg.data.train.img_prefix = str(tmp_path / 'train') + '/'
    loader = build_dataloader(
        build_dataset(cfg.data.train), 4, 0, dist=False, shuffle=False
    )
    batch = {k: v.data[0] for k, v in next(iter(loader)).items()}
    model = build_detector(cfg.model)
    model.init_weights()
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(8):
        loss = model.train_step(batch, optimizer)['loss']
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    part = model.bbox_head if 'head' in name else model.neck
    grads = [
        m.weight.grad.abs().sum().item()
        for m in part.modules()
        if isinstance(m, ODConv2d)
    ]
    assert grads and all(g > 0 for g in grads)
    assert losses[-1] < 0.8 * losses[0], losses


@pytest.mark.parametrize(
    'name', ['retinanet_odconv-head', 'mask_rcnn_odconv-neck']
)
def test_quickstart_variant_layers_share_the_backbone_temperature(name):
    """tools/train.py runs these configs with ODConvTemperatureHook, which
    refuses ODConv layers built with different temperatures: the head's or
    neck's conv_cfg sets the backbone's 10.0, so the hook anneals all of
    them to 10.0."""
    from types import SimpleNamespace

    from mmdet.core.hook.odconv_temperature import (
        ODConvTemperatureHook,
        _temperature_layers,
    )

    config = f'{name}_mobilenetv2_tiny_coco.py'
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'quickstart', config))
    model = build_detector(cfg.model)
    layers = _temperature_layers(model)
    part = model.bbox_head if 'head' in name else model.neck
    assert any(isinstance(m, ODConv2d) for m in part.modules())
    assert {float(m.temperature) for m in layers} == {10.0}
    hook = ODConvTemperatureHook(init_temp=30.0, anneal_epochs=4)
    runner = SimpleNamespace(model=model, logger=None, max_epochs=4)
    runner.max_iters = 40
    hook.before_run(runner)
    assert hook._target == 10.0


def test_conv_cfg_temperature_sets_the_attention_temperature():
    conv = build_conv_layer(
        dict(type='ODConv', kernel_num=2, temperature=7.0), 8, 8, 3
    )
    assert conv.attention.temperature == 7.0
    assert ODConv2d(8, 8, 3).attention.temperature == 1.0
