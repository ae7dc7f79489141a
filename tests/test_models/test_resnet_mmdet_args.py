"""ResNet and FPN take MMDetection 2.x's constructor arguments; options
this toolbox does not implement are refused naming the key."""

import pytest
import torch
import torch.nn as nn

from mmdet.models import build_backbone, build_neck
from mmdet.utils.arg_errors import UnsupportedOptionError


def resnet(**kwargs):
    return build_backbone(dict(type='ResNet', **kwargs))


def test_default_has_no_fc_and_mmdet_names():
    model = resnet(depth=50)
    assert not hasattr(model, 'fc')
    assert model.norm1 is model.bn1
    assert model.res_layers == ['layer1', 'layer2', 'layer3', 'layer4']
    block = model.layer1[0]
    assert block.norm3 is block.bn3
    # zero_init_residual (MMDetection's default) zeroes every last norm
    assert torch.count_nonzero(block.bn3.weight) == 0
    assert torch.all(block.bn1.weight == 1)
    assert (
        sum(p.numel() for p in resnet(depth=50, num_classes=1000).parameters())
        - sum(p.numel() for p in model.parameters())
        == 2048 * 1000 + 1000
    )


@pytest.mark.parametrize(
    'style,conv1_stride,conv2_stride', [('pytorch', 1, 2), ('caffe', 2, 1)]
)
def test_style_puts_the_stride(style, conv1_stride, conv2_stride):
    block = resnet(depth=50, style=style).layer2[0]
    assert block.conv1.stride == (conv1_stride, conv1_stride)
    assert block.conv2.stride == (conv2_stride, conv2_stride)


def test_stages_strides_dilations_out_indices():
    model = resnet(
        depth=18,
        num_stages=3,
        strides=(1, 2, 1),
        dilations=(1, 1, 2),
        out_indices=(0, 2),
    ).eval()
    assert not hasattr(model, 'layer4')
    assert model.layer3[0].conv1.dilation == (2, 2)
    outs = model(torch.rand(1, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(1, 64, 16, 16), (1, 256, 8, 8)]


def test_deep_stem_avg_down_channels():
    model = resnet(
        depth=50,
        deep_stem=True,
        avg_down=True,
        stem_channels=32,
        base_channels=16,
        in_channels=1,
    ).eval()
    assert isinstance(model.stem, nn.Sequential)
    assert not hasattr(model, 'conv1')
    assert isinstance(model.layer2[0].downsample[0], nn.AvgPool2d)
    outs = model(torch.rand(2, 1, 64, 64))
    assert [o.shape[1] for o in outs] == [64, 128, 256, 512]
    model = resnet(depth=50, deep_stem=True, frozen_stages=0)
    assert all(not p.requires_grad for p in model.stem.parameters())


@pytest.mark.parametrize(
    'norm_cfg,norm_type,name',
    [
        (dict(type='BN', requires_grad=False), nn.BatchNorm2d, 'bn1'),
        (dict(type='SyncBN', requires_grad=True), nn.SyncBatchNorm, 'bn1'),
        (
            dict(type='GN', num_groups=32, requires_grad=True),
            nn.GroupNorm,
            'gn1',
        ),
    ],
)
def test_norm_cfg(norm_cfg, norm_type, name):
    model = resnet(depth=50, norm_cfg=norm_cfg)
    assert isinstance(getattr(model, name), norm_type)
    assert isinstance(model.layer1[0].norm3, norm_type)
    assert model.norm1.weight.requires_grad == norm_cfg['requires_grad']


def test_with_cp_gives_the_same_gradients():
    torch.manual_seed(0)
    plain = resnet(depth=18, zero_init_residual=False, norm_eval=False)
    cp_model = resnet(
        depth=18, zero_init_residual=False, norm_eval=False, with_cp=True
    )
    cp_model.load_state_dict(plain.state_dict())
    x = torch.rand(2, 3, 32, 32)
    grads = []
    for model in (plain, cp_model):
        model.train()
        sum(o.sum() for o in model(x)).backward()
        grads.append(model.layer2[0].conv1.weight.grad)
    assert torch.allclose(grads[0], grads[1], atol=1e-6)


@pytest.mark.parametrize(
    'kwargs,key',
    [(dict(conv_cfg=dict(type='NoSuchConv')), 'conv_cfg')],
)
def test_unsupported_resnet_options_name_the_key(kwargs, key):
    with pytest.raises(UnsupportedOptionError, match=f'{key}=.*not supported'):
        resnet(depth=50, **kwargs)


@pytest.mark.parametrize(
    'kwargs',
    [
        dict(num_stages=0),
        dict(num_stages=5),
        dict(style='tensorflow'),
        dict(out_indices=(4,)),
        dict(strides=(1, 2), dilations=(1, 1, 1, 1)),
        dict(
            pretrained='a.pth',
            init_cfg=dict(type='Pretrained', checkpoint='b.pth'),
        ),
    ],
)
def test_bad_values_are_assertion_errors(kwargs):
    # MMDetection asserts these; code catching AssertionError still works
    with pytest.raises(AssertionError):
        resnet(depth=50, **kwargs)


def test_bad_depth_and_pretrained_type():
    with pytest.raises(KeyError, match='invalid depth 20'):
        resnet(depth=20)
    with pytest.raises(TypeError, match='pretrained must be a str'):
        resnet(depth=18, pretrained=0)
    with pytest.raises(TypeError, match="unexpected keyword.*'dcnn'"):
        build_backbone(dict(type='OD_ResNet', depth=18, dcnn=None))


def test_od_resnet_takes_resnet_args():
    model = build_backbone(
        dict(
            type='OD_ResNet',
            depth=18,
            kernel_num=1,
            num_stages=4,
            style='pytorch',
            norm_cfg=dict(type='BN', requires_grad=True),
            out_indices=(3,),
        )
    ).eval()
    assert model.fc.out_features == 1000
    assert model(torch.rand(1, 3, 32, 32))[0].shape == (1, 512, 1, 1)


def test_fpn_unsupported_and_bad_options():
    base = dict(type='FPN', in_channels=[8, 16], out_channels=8, num_outs=3)
    with pytest.raises(UnsupportedOptionError, match='conv_cfg=.*NoSuch'):
        build_neck(dict(base, conv_cfg=dict(type='NoSuchConv')))
    with pytest.raises(AssertionError, match='add_extra_convs'):
        build_neck(dict(base, add_extra_convs='on_top'))
    with pytest.raises(AssertionError, match='in_channels'):
        build_neck(dict(base, in_channels=8))
    neck = build_neck(
        dict(
            base,
            add_extra_convs=True,
            relu_before_extra_convs=True,
            norm_cfg=dict(type='GN', num_groups=2),
            no_norm_on_lateral=True,
            upsample_cfg=dict(mode='bilinear', align_corners=False),
        )
    )
    outs = neck([torch.rand(1, 8, 16, 16), torch.rand(1, 16, 8, 8)])
    assert [o.shape[-1] for o in outs] == [16, 8, 4]


def test_res_layer_downsample_last():
    """MMDetection's ``ResLayer(downsample_first=False)`` (HourglassNet's
    order), imported from where its code imports it."""
    from mmdet.models.backbones.resnet import BasicBlock
    from mmdet.models.utils import ResLayer

    layer = ResLayer(BasicBlock, 64, 64, 3, stride=2, downsample_first=False)
    assert [b.downsample is None for b in layer] == [True, True, False]
    assert layer[2].downsample[0].stride == (2, 2)
    assert layer[0].conv1.stride == (1, 1) and layer[2].conv1.stride == (2, 2)
    assert layer(torch.rand(1, 64, 56, 56)).shape == (1, 64, 28, 28)
    first = ResLayer(BasicBlock, 64, 64, 3, stride=2)
    assert first[0].downsample[0].stride == (2, 2)
    assert first[1].downsample is None and first[2].downsample is None
