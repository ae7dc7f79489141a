"""Behaviour of the SSD, YOLO, YOLOX, CornerNet, DetectoRS and TridentNet
backbones (and the RFP neck): output strides and channels on tiny inputs,
freezing, and the special layers (Focus, SAC, TridentConv) against
independent definitions."""

import pytest
import torch
import torch.nn.functional as F
from mmcv.cnn import ConvAWS2d

from mmdet.models import build_backbone, build_neck
from mmdet.models.backbones.csp_darknet import Focus
from mmdet.models.backbones.trident_resnet import TridentConv
from mmdet.models.utils import CSPLayer, DarknetBottleneck, SAConv2d
from mmdet.utils.arg_errors import InvalidArgumentError
from mmdet.utils.state_dict import CheckpointMismatchError


def shapes(outs):
    return [tuple(o.shape) for o in outs]


def frozen(module):
    return all(not p.requires_grad for p in module.parameters())


# -- SSDVGG ---------------------------------------------------------------


def test_ssd_vgg_outputs_conv4_3_and_fc7_with_ceil_mode():
    model = build_backbone(dict(type='SSDVGG', depth=16)).eval()
    with torch.no_grad():
        outs = model(torch.rand(1, 3, 75, 75))
    # 75 -> 38 -> 19 -> 10 with ceil-mode pools (stride 8), then 5
    assert shapes(outs) == [(1, 512, 10, 10), (1, 1024, 5, 5)]
    fc6 = model.features[31]
    assert (fc6.dilation, fc6.padding) == ((6, 6), (6, 6))


def test_ssd_vgg_single_output_and_deprecated_args():
    with pytest.warns(UserWarning, match='moved to SSDNeck'):
        model = build_backbone(
            dict(
                type='SSDVGG',
                depth=16,
                out_feature_indices=(34,),
                l2_norm_scale=20,
            )
        )
    model.init_weights()
    out = model.eval()(torch.rand(1, 3, 32, 32))
    assert out.shape == (1, 1024, 2, 2)
    assert not hasattr(model, 'l2_norm')


# -- Darknet ---------------------------------------------------------------


def test_darknet53_strides_channels_and_freezing():
    model = build_backbone(dict(type='Darknet', depth=53, frozen_stages=2))
    model.init_weights()
    model.train()
    assert frozen(model.conv1) and frozen(model.conv_res_block1)
    assert not frozen(model.conv_res_block2)
    assert not model.conv1.bn.training  # frozen and norm_eval
    with torch.no_grad():
        outs = model.eval()(torch.rand(1, 3, 64, 64))
    assert shapes(outs) == [(1, 256, 8, 8), (1, 512, 4, 4), (1, 1024, 2, 2)]


def test_darknet_res_block_is_residual():
    block = build_backbone(dict(type='Darknet')).conv_res_block1.res0.eval()
    x = torch.rand(1, 64, 5, 5)
    torch.nn.init.zeros_(block.conv2.bn.weight)
    torch.nn.init.zeros_(block.conv2.bn.bias)
    # LeakyReLU(0) = 0: the block reduces to its shortcut
    assert torch.equal(block(x), x)


# -- CSPDarknet ------------------------------------------------------------


def test_focus_is_space_to_depth_in_mmdetection_order():
    focus = Focus(2, 4, kernel_size=1)
    seen = {}
    focus.conv.register_forward_hook(lambda m, i, o: seen.update(x=i[0]))
    x = torch.rand(1, 2, 6, 8)
    focus(x)
    # pixel_unshuffle gives channel c * 4 + dy * 2 + dx; YOLOv5 stacks the
    # (dy, dx) = (0, 0), (1, 0), (0, 1), (1, 1) planes, each with all c.
    blocks = F.pixel_unshuffle(x, 2).view(1, 2, 2, 2, 3, 4)
    expected = blocks.permute(0, 3, 2, 1, 4, 5).reshape(1, 8, 3, 4)
    assert torch.equal(seen['x'], expected)


def test_csp_darknet_yolox_s_strides_channels():
    model = build_backbone(
        dict(
            type='CSPDarknet',
            deepen_factor=0.33,
            widen_factor=0.5,
            out_indices=(0, 1, 2, 3, 4),
        )
    ).eval()
    with torch.no_grad():
        outs = model(torch.rand(1, 3, 64, 64))
    assert shapes(outs) == [
        (1, 32, 32, 32),
        (1, 64, 16, 16),
        (1, 128, 8, 8),
        (1, 256, 4, 4),
        (1, 512, 2, 2),
    ]
    assert len(model.stage2[1].blocks) == round(9 * 0.33)
    assert not model.stage4[2].blocks[0].add_identity  # no shortcut there


def test_csp_darknet_p6_depthwise_and_freezing():
    model = build_backbone(
        dict(
            type='CSPDarknet',
            arch='P6',
            widen_factor=0.125,
            deepen_factor=0.33,
            use_depthwise=True,
            out_indices=(5,),
            frozen_stages=1,
        )
    )
    model.train()
    assert frozen(model.stem) and frozen(model.stage1)
    assert not frozen(model.stage2)
    assert hasattr(model.stage2[0], 'depthwise_conv')
    with torch.no_grad():
        (out,) = model.eval()(torch.rand(1, 3, 64, 64))
    assert out.shape == (1, 128, 1, 1)
    with pytest.raises(InvalidArgumentError):
        build_backbone(dict(type='CSPDarknet', out_indices=(5,)))


def test_csp_layer_and_bottleneck():
    layer = CSPLayer(16, 24, num_blocks=2).eval()
    assert layer(torch.rand(2, 16, 5, 5)).shape == (2, 24, 5, 5)
    assert DarknetBottleneck(8, 8).add_identity
    assert not DarknetBottleneck(8, 16).add_identity


# -- HourglassNet ----------------------------------------------------------

TINY_HOURGLASS = dict(
    type='HourglassNet',
    downsample_times=2,
    num_stacks=2,
    stage_channels=[8, 8, 16],
    stage_blocks=[1, 1, 2],
    feat_channel=12,
)


def test_hourglass_outputs_one_map_per_stack_at_stride_4():
    model = build_backbone(TINY_HOURGLASS)
    model.init_weights()
    with torch.no_grad():
        outs = model.eval()(torch.rand(1, 3, 63, 63))  # odd size
    assert shapes(outs) == [(1, 12, 16, 16)] * 2
    with pytest.raises(InvalidArgumentError):
        build_backbone(dict(TINY_HOURGLASS, init_cfg=dict(type='Normal')))


# -- SAC -------------------------------------------------------------------


def randomise(module):
    torch.manual_seed(0)
    for p in module.parameters():
        p.data.uniform_(-0.3, 0.3)
    return module


def sac_reference(m, x):
    """SAC in float64 from its definition (no deformation)."""
    x, weight = x.double(), m._get_weight(m.weight).double()
    diff = m.weight_diff.double()

    def conv(c, t):
        return F.conv2d(t, c.weight.double(), c.bias.double(), c.stride)

    x = x + conv(m.pre_context, x.mean((2, 3), keepdim=True))
    pooled = F.avg_pool2d(F.pad(x, (2,) * 4, mode='reflect'), 5, 1)
    s = conv(m.switch, pooled)
    p, d = m.padding[0], m.dilation[0]
    small = F.conv2d(x, weight, None, m.stride, p, d)
    large = F.conv2d(x, weight + diff, None, m.stride, 3 * p, 3 * d)
    out = s * small + (1 - s) * large
    return out + conv(m.post_context, out.mean((2, 3), keepdim=True))


@pytest.mark.parametrize('stride', [1, 2])
def test_sac_matches_its_definition(stride):
    m = randomise(SAConv2d(4, 6, 3, stride=stride, padding=1, bias=False))
    x = torch.rand(2, 4, 9, 9)
    expected = sac_reference(m, x).float()
    torch.testing.assert_close(m(x), expected, atol=1e-5, rtol=1e-4)


def test_sac_starts_as_its_weight_standardised_conv():
    m = SAConv2d(4, 6, 3, padding=1, use_deform=True)
    aws = ConvAWS2d(4, 6, 3, padding=1, bias=False)
    aws.weight.data.copy_(m.weight.data)
    x = torch.rand(1, 4, 7, 7)
    torch.testing.assert_close(m(x), aws(x))


def test_sac_deformable_offsets_shift_the_sampling():
    plain = randomise(SAConv2d(3, 5, 3, padding=1, bias=False))
    deform = SAConv2d(3, 5, 3, padding=1, bias=False, use_deform=True)
    deform.load_state_dict(plain.state_dict(), strict=False)
    x = torch.rand(1, 3, 8, 8)
    # zero offsets: the deformable conv is the plain one
    torch.testing.assert_close(deform(x), plain(x), atol=1e-5, rtol=1e-4)
    # offsets (dy, dx) = (0, 1) everywhere, only one branch (switch = 1),
    # no context: the small conv of x shifted left by one pixel
    for m in (plain, deform):
        for conv in (m.pre_context, m.post_context, m.switch):
            torch.nn.init.zeros_(conv.weight)
            torch.nn.init.zeros_(conv.bias)
        torch.nn.init.ones_(m.switch.bias)
    deform.offset_s.bias.data[1::2] = 1.0
    shifted = F.pad(x[..., 1:], (0, 1))
    # (column 0 differs: the deformable conv reads x[0] where the shifted
    # image has padding)
    torch.testing.assert_close(
        deform(x)[..., 1:], plain(shifted)[..., 1:], atol=1e-5, rtol=1e-4
    )


# -- DetectoRS -------------------------------------------------------------

TINY_DETECTORS = dict(
    type='DetectoRS_ResNet',
    depth=50,
    base_channels=4,
    conv_cfg=dict(type='ConvAWS'),
    sac=dict(type='SAC', use_deform=True),
    stage_with_sac=(False, True, True, True),
)


def test_detectors_resnet_outputs_and_sac_layers():
    model = build_backbone(dict(TINY_DETECTORS, output_img=True))
    model.init_weights()
    x = torch.rand(1, 3, 96, 96)
    with torch.no_grad():
        outs = model.eval()(x)
    assert outs[0] is x
    assert shapes(outs[1:]) == [
        (1, 16, 24, 24),
        (1, 32, 12, 12),
        (1, 64, 6, 6),
        (1, 128, 3, 3),
    ]
    assert not isinstance(model.layer1[0].conv2, SAConv2d)
    assert all(isinstance(b.conv2, SAConv2d) for b in model.layer4)
    assert isinstance(model.conv1, ConvAWS2d)


def test_detectors_rfp_forward_adds_the_feedback():
    model = build_backbone(dict(TINY_DETECTORS, rfp_inplanes=8)).eval()
    assert not hasattr(model.layer1[0], 'rfp_conv')
    assert [hasattr(b, 'rfp_conv') for b in model.layer2] == [1, 0, 0, 0]
    x = torch.rand(1, 3, 96, 96)
    feats = [None] + [torch.rand(1, 8, s, s) for s in (12, 6, 3)]
    with torch.no_grad():
        plain = model(x)
        # rfp_conv starts at zero: the feedback changes nothing yet
        same = model.rfp_forward(x, feats)
        torch.nn.init.ones_(model.layer3[0].rfp_conv.bias)
        changed = model.rfp_forward(x, feats)
    for a, b in zip(plain, same):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(changed[1], plain[1])
    assert not torch.allclose(changed[2], plain[2])


def test_rfp_neck_output_shapes_and_first_blend():
    neck = build_neck(
        dict(
            type='RFP',
            in_channels=[16, 32, 64, 128],
            out_channels=8,
            num_outs=5,
            rfp_steps=2,
            aspp_out_channels=2,
            rfp_backbone=dict(TINY_DETECTORS, rfp_inplanes=8),
        )
    )
    neck.init_weights()
    backbone = build_backbone(dict(TINY_DETECTORS, output_img=True)).eval()
    neck.eval()
    x = torch.rand(1, 3, 96, 96)
    with torch.no_grad():
        inputs = backbone(x)
        outs = neck(inputs)
        first = super(type(neck), neck).forward(inputs[1:])
        second = super(type(neck), neck).forward(
            neck.rfp_modules[0].rfp_forward(
                x, [first[0]] + [neck.rfp_aspp(f) for f in first[1:]]
            )
        )
    assert shapes(outs) == [(1, 8, s, s) for s in (24, 12, 6, 3, 2)]
    # rfp_weight starts at zero: sigmoid(0) = 1/2 blends both steps equally
    for out, a, b in zip(outs, first, second):
        torch.testing.assert_close(out, (a + b) / 2)
    with pytest.raises(InvalidArgumentError):
        neck(inputs[1:])


# -- TridentNet ------------------------------------------------------------


def test_trident_conv_is_one_weight_at_each_dilation():
    conv = TridentConv(3, 4, 3, trident_dilations=(1, 2, 3))
    xs = [torch.rand(1, 3, 9, 9) for _ in range(3)]
    for d, x, out in zip((1, 2, 3), xs, conv(xs)):
        ref = torch.nn.Conv2d(3, 4, 3, padding=d, dilation=d, bias=False)
        ref.weight.data.copy_(conv.weight.data)
        torch.testing.assert_close(out, ref(x))


TINY_TRIDENT = dict(
    type='TridentResNet',
    depth=50,
    base_channels=4,
    num_stages=3,
    strides=(1, 2, 2),
    dilations=(1, 1, 1),
    out_indices=(2,),
    style='caffe',
    num_branch=3,
    test_branch_idx=1,
    trident_dilations=(1, 2, 3),
)


def test_trident_resnet_layout_is_resnets_and_branches_stack():
    model = build_backbone(TINY_TRIDENT)
    plain = build_backbone(
        {
            k: v
            for k, v in TINY_TRIDENT.items()
            if k not in ('num_branch', 'test_branch_idx', 'trident_dilations')
        }
        | dict(type='ResNet')
    )
    layout = {k: v.shape for k, v in model.state_dict().items()}
    assert layout == {k: v.shape for k, v in plain.state_dict().items()}
    every = build_backbone(dict(TINY_TRIDENT, test_branch_idx=-1))
    every.load_state_dict(model.state_dict())
    x = torch.rand(2, 3, 32, 32)
    (train_out,) = model.train()(x)
    assert train_out.shape == (6, 64, 2, 2)
    with torch.no_grad():
        (one,) = model.eval()(x)
        (all_branches,) = every.eval()(x)
    assert one.shape == (2, 64, 2, 2)
    assert all_branches.shape == (6, 64, 2, 2)
    torch.testing.assert_close(one, all_branches[2:4])
    with pytest.raises(InvalidArgumentError):
        build_backbone(dict(TINY_TRIDENT, num_branch=2))


def test_detectors_resnet_loads_an_imagenet_resnet(tmp_path):
    """ImageNet weights (no SAC, RFP or ConvAWS statistics in the file)
    load, and with SAC, weight standardisation and RFP still at their
    initial state the backbone computes what the plain ResNet does."""
    resnet = build_backbone(
        dict(type='ResNet', depth=50, base_channels=4, num_classes=10)
    )
    randomise(resnet)
    path = str(tmp_path / 'resnet.pth')
    torch.save({'state_dict': resnet.state_dict()}, path)
    model = build_backbone(
        dict(TINY_DETECTORS, rfp_inplanes=8, pretrained=path)
    )
    model.init_weights()
    x = torch.rand(1, 3, 96, 96)
    with torch.no_grad():
        expected = resnet.eval()(x)
        outs = model.eval()(x)
    for out, ref in zip(outs, expected):
        torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-3)
    torch.save({'state_dict': {'conv1.weight': resnet.conv1.weight}}, path)
    with pytest.raises(CheckpointMismatchError, match="missing"):
        build_backbone(dict(TINY_DETECTORS, pretrained=path)).init_weights()


def test_detectors_resnext_has_torchvision_resnext_layout():
    from torchvision.models import resnext50_32x4d

    model = build_backbone(
        dict(type='DetectoRS_ResNeXt', depth=50, groups=32, base_width=4)
    )
    expected = {
        k: v.shape
        for k, v in resnext50_32x4d().state_dict().items()
        if not k.startswith('fc.')
    }
    assert {k: v.shape for k, v in model.state_dict().items()} == expected


def test_detectors_resnext_sac_is_grouped():
    model = build_backbone(
        dict(
            TINY_DETECTORS,
            type='DetectoRS_ResNeXt',
            groups=4,
            base_width=4,
            output_img=False,
        )
    )
    conv2 = model.layer2[0].conv2
    # width = floor(8 * 4 / 4) * 4 = 32 channels in 4 groups
    assert isinstance(conv2, SAConv2d) and conv2.groups == 4
    assert conv2.weight.shape == (32, 8, 3, 3)
    with torch.no_grad():
        outs = model.eval()(torch.rand(1, 3, 96, 96))
    assert shapes(outs)[-1] == (1, 128, 3, 3)
