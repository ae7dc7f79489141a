"""The ResNet family shares one ResNeXt Bottleneck and ResNet's ``dcn`` /
``plugins`` / stage hooks: RegNet and DetectoRS get DCN and plugins from
it, DetectoRS_ResNeXt's block is ResNeXt's."""

import torch

from mmdet.models import build_backbone
from mmdet.models.backbones.resnext import Bottleneck as ResNeXtBottleneck
from mmdet.models.utils import ModulatedDeformConv2dPack, SAConv2d

# four stages of one block: widths 8, 24, 40, 64, group width 8
TINY_REGNET = dict(w0=8, wa=16.0, wm=1.5, group_w=8, depth=4, bot_mul=1.0)
DCNV2 = dict(type='DCNv2', deform_groups=1, fallback_on_stride=False)


def test_resnext_width_uses_mmdetection_float_order():
    # 88 * (120 / 88) is 119.99999999999999 in float64, so MMDetection's
    # width is 119 per group (RegNet's stage widths hit such ratios)
    block = ResNeXtBottleneck(
        88, 88, groups=2, base_width=120, base_channels=88
    )
    assert block.conv2.in_channels == 2 * 119
    assert block.conv2.groups == 2


def test_regnet_takes_dcn_and_plugins():
    plugin = dict(
        cfg=dict(type='ContextBlock', ratio=0.25),
        position='after_conv3',
        stages=(False, True, True, True),
    )
    net = build_backbone(
        dict(
            type='RegNet',
            arch=TINY_REGNET,
            dcn=DCNV2,
            stage_with_dcn=(False, True, True, True),
            plugins=[plugin],
        )
    )
    assert type(net.layer1[0].conv2) is torch.nn.Conv2d
    assert isinstance(net.layer2[0].conv2, ModulatedDeformConv2dPack)
    assert net.layer2[0].conv2.groups == net.layer2[0].conv2.in_channels // 8
    assert not hasattr(net.layer1[0], 'context_block')
    assert hasattr(net.layer2[0], 'context_block')
    outs = net.eval()(torch.rand(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == net.out_channels


def test_detectors_resnet_keeps_dcn_where_there_is_no_sac():
    net = build_backbone(
        dict(
            type='DetectoRS_ResNet',
            depth=50,
            base_channels=8,
            num_stages=3,
            out_indices=(0, 1, 2),
            strides=(1, 2, 2),
            dilations=(1, 1, 1),
            dcn=DCNV2,
            stage_with_dcn=(False, True, True),
            sac=dict(type='SAC', use_deform=True),
            stage_with_sac=(False, False, True),
            rfp_inplanes=4,
        )
    )
    assert isinstance(net.layer2[0].conv2, ModulatedDeformConv2dPack)
    assert isinstance(net.layer3[0].conv2, SAConv2d)
    assert not hasattr(net.layer1[0], 'rfp_conv')
    assert net.layer2[0].rfp_conv.in_channels == 4
    assert not hasattr(net.layer2[1], 'rfp_conv')


def test_detectors_resnext_block_is_resnexts():
    net = build_backbone(
        dict(
            type='DetectoRS_ResNeXt',
            depth=50,
            groups=4,
            base_width=4,
            base_channels=16,
            sac=dict(type='SAC', use_deform=True),
            stage_with_sac=(False, True, True, True),
        )
    )
    plain = build_backbone(
        dict(
            type='ResNeXt', depth=50, groups=4, base_width=4, base_channels=16
        )
    )
    block = net.layer2[0]
    assert isinstance(block, ResNeXtBottleneck)
    assert isinstance(block.conv2, SAConv2d) and block.conv2.groups == 4
    # same widths as ResNeXt's own block: every non-SAC key has its shape
    ref = plain.state_dict()
    for key, value in net.state_dict().items():
        if key in ref:
            assert value.shape == ref[key].shape, key
