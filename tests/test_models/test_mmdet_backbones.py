"""MMDetection 2.28's other backbones (RegNet, Res2Net, ResNeSt, HRNet,
MobileNetV2 in its own layout, EfficientNet) and the HRFPN neck: layouts
against the shapes MMDetection 2.28.2 built (tests/data/reference), output
shapes and strides, freezing, norm_eval, and the split-attention, Res2Net
and SE computations against formulas written out here."""

import gzip
import json
import os.path as osp
import re

import pytest
import torch
import torch.nn.functional as F
from torch.nn.modules.batchnorm import _BatchNorm

from mmdet.models import build_backbone, build_neck
from mmdet.models.backbones.mobilenet_v2 import MobileNetV2
from mmdet.models.backbones.mobilenet_v2_mmdet import MMDetMobileNetV2
from mmdet.models.backbones.regnet import regnet_stages
from mmdet.models.backbones.res2net import Bottle2neck
from mmdet.models.backbones.resnest import SplitAttentionConv2d
from mmdet.models.utils import SELayer, make_divisible

REFERENCE = osp.join(
    osp.dirname(osp.dirname(__file__)),
    'data',
    'reference',
    'mmdet228_configs.json.gz',
)


@pytest.fixture(scope='module')
def ref():
    with gzip.open(REFERENCE, 'rt') as f:
        return json.load(f)


def backbone_shapes(ref, config):
    """Backbone state-dict shapes MMDetection 2.28.2 built for a config."""
    sd = ref[config]['state_dict']
    return {
        k[len('backbone.') :]: list(v)
        for k, v in sd.items()
        if k.startswith('backbone.')
    }


def layout(model):
    return {k: list(v.shape) for k, v in model.state_dict().items()}


# -- RegNet ------------------------------------------------------------

REGNET_CONFIGS = {
    'regnetx_400mf': 'mask_rcnn_regnetx-400MF_fpn_mstrain-poly_3x_coco.py',
    'regnetx_800mf': 'mask_rcnn_regnetx-800MF_fpn_mstrain-poly_3x_coco.py',
    'regnetx_1.6gf': 'mask_rcnn_regnetx-1.6GF_fpn_mstrain-poly_3x_coco.py',
    'regnetx_3.2gf': 'mask_rcnn_regnetx-3.2GF_fpn_1x_coco.py',
    'regnetx_4.0gf': 'mask_rcnn_regnetx-4GF_fpn_1x_coco.py',
    'regnetx_6.4gf': 'mask_rcnn_regnetx-6.4GF_fpn_1x_coco.py',
    'regnetx_8.0gf': 'mask_rcnn_regnetx-8GF_fpn_1x_coco.py',
    'regnetx_12gf': 'mask_rcnn_regnetx-12GF_fpn_1x_coco.py',
}


@pytest.mark.parametrize('arch', sorted(REGNET_CONFIGS))
def test_regnet_stages_match_mmdetection(ref, arch):
    """Stage widths, block counts and group widths as read off the
    checkpoint shapes MMDetection built."""
    from mmdet.models.backbones.regnet import RegNet

    shapes = backbone_shapes(ref, 'regnet/' + REGNET_CONFIGS[arch])
    widths, blocks, group_widths = regnet_stages(RegNet.arch_settings[arch])
    for i in range(4):
        names = {
            m.group(1)
            for k in shapes
            if (m := re.match(rf'layer{i + 1}\.(\d+)\.', k))
        }
        assert blocks[i] == len(names)
        conv2 = shapes[f'layer{i + 1}.0.conv2.weight']
        assert widths[i] == conv2[0]
        assert group_widths[i] == conv2[1]


def test_regnet_dict_arch_equals_named_and_outputs():
    named = build_backbone(dict(type='RegNet', arch='regnetx_400mf'))
    arch = dict(w0=24, wa=24.48, wm=2.54, group_w=16, depth=22, bot_mul=1.0)
    as_dict = build_backbone(dict(type='RegNet', arch=arch))
    assert layout(named) == layout(as_dict)
    outs = named.eval()(torch.rand(1, 3, 64, 96))
    # the FPN in_channels of MMDetection's regnetx-400MF configs
    assert [o.shape[1] for o in outs] == [32, 64, 160, 384]
    assert named.out_channels == [32, 64, 160, 384]
    assert [64 // o.shape[2] for o in outs] == [4, 8, 16, 32]
    assert [96 // o.shape[3] for o in outs] == [4, 8, 16, 32]


def test_regnet_bad_arch():
    with pytest.raises(KeyError, match='regnetx_400mf'):
        build_backbone(dict(type='RegNet', arch='regnetx_1gf'))
    with pytest.raises(ValueError, match='str or a dict'):
        build_backbone(dict(type='RegNet', arch=3))


# -- shared behaviour --------------------------------------------------

HRNET_TINY = dict(
    stage1=dict(
        num_modules=1,
        num_branches=1,
        block='BOTTLENECK',
        num_blocks=(1,),
        num_channels=(8,),
    ),
    stage2=dict(
        num_modules=1,
        num_branches=2,
        block='BASIC',
        num_blocks=(1, 1),
        num_channels=(4, 8),
    ),
    stage3=dict(
        num_modules=2,
        num_branches=3,
        block='BASIC',
        num_blocks=(1, 1, 1),
        num_channels=(4, 8, 16),
    ),
    stage4=dict(
        num_modules=1,
        num_branches=4,
        block='BASIC',
        num_blocks=(1, 1, 1, 1),
        num_channels=(4, 8, 16, 32),
    ),
)

# (config, frozen_stages to test, names of the modules it freezes)
FREEZABLE = [
    (
        dict(type='RegNet', arch='regnetx_400mf'),
        1,
        ['conv1', 'bn1', 'layer1'],
    ),
    (
        dict(type='Res2Net', depth=50, base_channels=16, base_width=8),
        1,
        ['stem', 'layer1'],
    ),
    (
        dict(type='ResNeSt', depth=50, stem_channels=32, base_channels=16),
        2,
        ['stem', 'layer1', 'layer2'],
    ),
    (
        dict(type='MobileNetV2', widen_factor=0.5),
        2,
        ['conv1', 'layer1', 'layer2'],
    ),
    (dict(type='EfficientNet', arch='b0'), 2, ['layers.0', 'layers.1']),
]


@pytest.mark.parametrize(
    'cfg,frozen,names', FREEZABLE, ids=lambda x: str(x)[:30]
)
def test_frozen_stages(cfg, frozen, names):
    model = build_backbone(dict(cfg, frozen_stages=frozen, norm_eval=False))
    model.train()
    for name, param in model.named_parameters():
        is_frozen = any(name.startswith(n + '.') for n in names)
        assert param.requires_grad == (not is_frozen), name
    for name, m in model.named_modules():
        if isinstance(m, _BatchNorm):
            is_frozen = any(name.startswith(n) for n in names)
            assert m.training == (not is_frozen), name


BN_CONFIGS = [c for c, _, _ in FREEZABLE] + [
    dict(type='HRNet', extra=HRNET_TINY)
]


@pytest.mark.parametrize('cfg', BN_CONFIGS, ids=lambda c: c['type'])
@pytest.mark.parametrize('norm_eval', [True, False])
def test_norm_eval(cfg, norm_eval):
    model = build_backbone(dict(cfg, norm_eval=norm_eval)).train()
    norms = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert norms and all(m.training != norm_eval for m in norms)
    before = [m.running_mean.clone() for m in norms]
    with torch.no_grad():
        model(torch.rand(2, 3, 64, 64))
    unchanged = [torch.equal(b, m.running_mean) for b, m in zip(before, norms)]
    assert all(unchanged) == norm_eval


# -- Res2Net, ResNeSt ----------------------------------------------------


@pytest.mark.parametrize('typ', ['Res2Net', 'ResNeSt'])
def test_resnet_family_outputs(typ):
    model = build_backbone(
        dict(type=typ, depth=50, base_channels=16, out_indices=(0, 1, 2, 3))
    ).eval()
    outs = model(torch.rand(1, 3, 64, 64))
    assert [tuple(o.shape[1:]) for o in outs] == [
        (64, 16, 16),
        (128, 8, 8),
        (256, 4, 4),
        (512, 2, 2),
    ]


def test_bottle2neck_matches_formula():
    torch.manual_seed(0)
    block = Bottle2neck(32, 8, scales=4, base_width=4, base_channels=8)
    block.eval()
    for bn in block.modules():
        if isinstance(bn, _BatchNorm):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2)
    x = torch.randn(2, 32, 6, 6)
    relu = F.relu
    y = relu(block.bn1(block.conv1(x)))
    xs = y.split(4, dim=1)  # width = 8 * 4 / 8 = 4 channels per split
    ys = []
    for i in range(3):
        inp = xs[i] if i == 0 else xs[i] + ys[-1]
        ys.append(relu(block.bns[i](block.convs[i](inp))))
    expected = relu(block.bn3(block.conv3(torch.cat(ys + [xs[3]], 1))) + x)
    assert torch.allclose(block(x), expected, atol=1e-6)


@pytest.mark.parametrize('groups', [1, 2])
def test_split_attention_matches_formula(groups):
    torch.manual_seed(0)
    radix, channels = 2, 8
    sa = SplitAttentionConv2d(
        8, channels, 3, padding=1, groups=groups, radix=radix
    ).eval()
    x = torch.randn(2, 8, 5, 5)
    y = F.relu(sa.norm0(sa.conv(x)))
    splits = y.view(2, radix, channels, 5, 5)
    gap = splits.sum(1).mean((2, 3), keepdim=True)
    logits = sa.fc2(F.relu(sa.norm1(sa.fc1(gap)))).view(2, -1)
    # fc2's outputs are ordered (group, split, channel of the group);
    # softmax over the splits
    per = channels // groups
    logits = logits.view(2, groups, radix, per)
    weights = logits.softmax(dim=2).transpose(1, 2).reshape(2, radix, -1)
    expected = (weights[..., None, None] * splits).sum(1)
    assert torch.allclose(sa(x), expected, atol=1e-6)


def test_resnest_radix1_is_sigmoid_gate():
    sa = SplitAttentionConv2d(8, 8, 3, padding=1, radix=1).eval()
    x = torch.randn(1, 8, 4, 4)
    y = F.relu(sa.norm0(sa.conv(x)))
    gate = sa.fc2(F.relu(sa.norm1(sa.fc1(y.mean((2, 3), keepdim=True)))))
    assert torch.allclose(sa(x), torch.sigmoid(gate) * y, atol=1e-6)


@pytest.mark.parametrize(
    'config',
    [
        'res2net/faster_rcnn_r2_101_fpn_2x_coco.py',
        'resnest/faster_rcnn_s101_fpn_syncbn-backbone+head_mstrain-range'
        '_1x_coco.py',
    ],
)
def test_res2net_resnest_101_layout(ref, config):
    if 'res2net' in config:
        cfg = dict(type='Res2Net', depth=101, scales=4, base_width=26)
    else:
        cfg = dict(
            type='ResNeSt',
            stem_channels=128,
            depth=101,
            radix=2,
            reduction_factor=4,
            avg_down_stride=True,
            frozen_stages=1,
            norm_eval=False,
        )
    assert layout(build_backbone(cfg)) == backbone_shapes(ref, config)


# -- HRNet, HRFPN ----------------------------------------------------------


def test_hrnet_outputs_and_hrfpn():
    model = build_backbone(dict(type='HRNet', extra=HRNET_TINY)).eval()
    outs = model(torch.rand(1, 3, 64, 96))
    assert [tuple(o.shape[1:]) for o in outs] == [
        (4, 16, 24),
        (8, 8, 12),
        (16, 4, 6),
        (32, 2, 3),
    ]
    assert model.out_channels == [4, 8, 16, 32]
    single = build_backbone(
        dict(type='HRNet', extra=HRNET_TINY, multiscale_output=False)
    ).eval()
    assert [o.shape[1] for o in single(torch.rand(1, 3, 64, 96))] == [4]

    neck = build_neck(
        dict(type='HRFPN', in_channels=[4, 8, 16, 32], out_channels=6)
    ).eval()
    pyramid = neck(outs)
    assert [tuple(p.shape[1:]) for p in pyramid] == [
        (6, 16 // 2**k, 24 // 2**k) for k in range(4)
    ] + [(6, 1, 1)]
    # MMDetection's form: upsample branch i by 2**i, concat, reduce, pool
    ups = [outs[0]] + [
        F.interpolate(o, scale_factor=2**i, mode='bilinear')
        for i, o in enumerate(outs)
        if i
    ]
    reduced = neck.reduction_conv(torch.cat(ups, 1))
    level2 = F.avg_pool2d(reduced, kernel_size=4, stride=4)
    assert torch.allclose(pyramid[2], neck.fpn_convs[2](level2), atol=1e-5)


def test_hrnet_w18_layout(ref):
    extra = dict(
        stage1=dict(
            num_modules=1,
            num_branches=1,
            block='BOTTLENECK',
            num_blocks=(4,),
            num_channels=(64,),
        ),
        stage2=dict(
            num_modules=1,
            num_branches=2,
            block='BASIC',
            num_blocks=(4, 4),
            num_channels=(18, 36),
        ),
        stage3=dict(
            num_modules=4,
            num_branches=3,
            block='BASIC',
            num_blocks=(4, 4, 4),
            num_channels=(18, 36, 72),
        ),
        stage4=dict(
            num_modules=3,
            num_branches=4,
            block='BASIC',
            num_blocks=(4, 4, 4, 4),
            num_channels=(18, 36, 72, 144),
        ),
    )
    model = build_backbone(dict(type='HRNet', extra=extra))
    config = 'hrnet/htc_hrnetv2p_w18_20e_coco.py'  # detector not here
    assert layout(model) == backbone_shapes(ref, config)


def test_hrnet_extra_checked():
    bad = dict(HRNET_TINY, stage2=dict(HRNET_TINY['stage2'], num_blocks=(1,)))
    with pytest.raises(AssertionError, match='stage2'):
        build_backbone(dict(type='HRNet', extra=bad))


# -- MobileNetV2 (both layouts), EfficientNet --------------------------------


def test_mobilenet_v2_layout_follows_arguments(ref):
    mmdet = build_backbone(
        dict(
            type='MobileNetV2',
            out_indices=(2, 4, 6),
            act_cfg=dict(type='LeakyReLU', negative_slope=0.1),
        )
    )
    assert isinstance(mmdet, MMDetMobileNetV2)
    shapes = backbone_shapes(ref, 'yolo/yolov3_mobilenetv2_320_300e_coco.py')
    assert layout(mmdet) == shapes
    # only shared arguments: the ODConv release's layout, as before
    odconv = build_backbone(dict(type='MobileNetV2', out_indices=(1, 2)))
    assert type(odconv) is MobileNetV2
    assert 'features.18.0.weight' in odconv.state_dict()
    with pytest.raises(TypeError, match='use one set'):
        MobileNetV2(num_classes=10, act_cfg=dict(type='ReLU'))
    with pytest.raises(TypeError, match='widen_factor'):
        build_backbone(dict(type='OD_MobileNetV2', widen_factor=1.0))
    with pytest.raises(ValueError, match='0..7, is built when'):
        MobileNetV2(out_indices=(5,))


def test_mmdet_mobilenet_v2_outputs():
    model = MobileNetV2(widen_factor=1.0, out_indices=tuple(range(8)))
    outs = model.eval()(torch.rand(1, 3, 64, 64))
    channels = [16, 24, 32, 64, 96, 160, 320, 1280]
    assert [o.shape[1] for o in outs] == channels == model.out_channels
    assert [64 // o.shape[2] for o in outs] == [2, 4, 8, 16, 16, 32, 32, 32]
    wide = MobileNetV2(widen_factor=1.5, out_indices=(7,))
    assert wide.out_channels == [1920]
    with pytest.raises(ValueError, match='0..7'):
        MobileNetV2(widen_factor=1.0, out_indices=(8,))


def test_efficientnet_b3_layout(ref):
    model = build_backbone(
        dict(
            type='EfficientNet',
            arch='b3',
            drop_path_rate=0.2,
            out_indices=(3, 4, 5),
            frozen_stages=0,
            norm_cfg=dict(type='BN', requires_grad=True, eps=1e-3),
            norm_eval=False,
        )
    )
    config = 'efficientnet/retinanet_effb3_fpn_crop896_8x4_1x_coco.py'
    assert layout(model) == backbone_shapes(ref, config)
    assert model.out_channels == [48, 136, 384]  # the config's FPN input


def test_efficientnet_b0_outputs_and_drop_path():
    model = build_backbone(
        dict(
            type='EfficientNet',
            out_indices=tuple(range(7)),
            drop_path_rate=0.3,
        )
    )
    outs = model.eval()(torch.rand(1, 3, 64, 96))
    assert [o.shape[1] for o in outs] == [32, 16, 24, 40, 112, 320, 1280]
    assert [64 // o.shape[2] for o in outs] == [2, 2, 4, 8, 16, 32, 32]
    blocks = [b for layer in model.layers[1:6] for b in layer]
    assert len(blocks) == 16
    rates = [getattr(b.drop_path, 'drop_prob', 0.0) for b in blocks]
    expected = torch.linspace(0, 0.3, 16).tolist()
    assert rates == pytest.approx(expected)
    with pytest.raises(NotImplementedError, match='es'):
        build_backbone(dict(type='EfficientNet', arch='es'))


# -- layers ------------------------------------------------------------------


def test_make_divisible():
    assert make_divisible(16.0, 8) == 16
    assert make_divisible(19.2, 8) == 24  # 16 would lose more than 10%
    assert make_divisible(20.0, 8) == 24  # rounds half up
    assert make_divisible(3, 8) == 8  # at least the divisor
    assert make_divisible(100, 8, min_ratio=0.99) == 104


def test_se_layer_matches_formula():
    torch.manual_seed(0)
    se = SELayer(12, ratio=4)
    assert se.conv1.conv.out_channels == 3
    x = torch.randn(2, 12, 5, 5)
    pooled = x.mean((2, 3), keepdim=True)
    hidden = F.relu(F.conv2d(pooled, se.conv1.conv.weight, se.conv1.conv.bias))
    gate = torch.sigmoid(
        F.conv2d(hidden, se.conv2.conv.weight, se.conv2.conv.bias)
    )
    assert torch.allclose(se(x), x * gate, atol=1e-6)


# -- pretrained checkpoints ------------------------------------------------


def test_hrnet_loads_imagenet_checkpoint_with_head(tmp_path):
    torch.manual_seed(0)
    source = build_backbone(dict(type='HRNet', extra=HRNET_TINY))
    sd = dict(source.state_dict())
    # the classification head of the released ImageNet checkpoints
    sd['incre_modules.0.0.conv1.weight'] = torch.zeros(1)
    sd['classifier.weight'] = torch.zeros(1000, 2048)
    path = str(tmp_path / 'hrnet.pth')
    torch.save({'state_dict': sd}, path)
    model = build_backbone(
        dict(type='HRNet', extra=HRNET_TINY, pretrained=path)
    )
    model.init_weights()
    assert torch.equal(model.conv1.weight, source.conv1.weight)
    sd['stage5.weight'] = torch.zeros(1)  # anything else is still refused
    torch.save({'state_dict': sd}, path)
    with pytest.raises(Exception, match='stage5'):
        model.init_weights()


def test_efficientnet_loads_backbone_prefix_and_skips_unbuilt(tmp_path):
    torch.manual_seed(0)
    full = build_backbone(dict(type='EfficientNet', out_indices=(6,)))
    sd = {'backbone.' + k: v for k, v in full.state_dict().items()}
    sd['head.fc.weight'] = torch.zeros(1000, 1280)
    path = str(tmp_path / 'effnet.pth')
    torch.save({'state_dict': sd}, path)
    init = dict(type='Pretrained', prefix='backbone', checkpoint=path)
    model = build_backbone(
        dict(type='EfficientNet', out_indices=(3, 4), init_cfg=init)
    )
    assert len(model.layers) == 5
    model.init_weights()
    assert torch.equal(
        model.layers[4][0].linear_conv.conv.weight,
        full.layers[4][0].linear_conv.conv.weight,
    )


@pytest.mark.parametrize('cfg', BN_CONFIGS, ids=lambda c: c['type'])
def test_with_cp_gives_the_same_gradients(cfg):
    results = []
    for with_cp in (False, True):
        torch.manual_seed(0)
        model = build_backbone(dict(cfg, with_cp=with_cp)).train()
        x = torch.rand(1, 3, 64, 64, requires_grad=True)
        sum(o.square().mean() for o in model(x)).backward()
        results.append(x.grad)
    assert torch.allclose(results[0], results[1], rtol=1e-4, atol=1e-6)
