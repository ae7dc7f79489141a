"""Necks of MMDetection 2.28's configs: each built from its config's neck
dict has the reference state-dict keys and shapes (``neck.`` entries of
tests/data/reference/mmdet228_configs.json.gz), and maps tiny multi-level
inputs to the documented output shapes."""

import gzip
import importlib.util
import json
import os.path as osp

import pytest
import torch
from mmcv.cnn import CONV_LAYERS

from mmdet.models import build_neck

REFERENCE = osp.join(
    osp.dirname(osp.dirname(__file__)),
    'data',
    'reference',
    'mmdet228_configs.json.gz',
)
R50 = [256, 512, 1024, 2048]
BN = dict(type='BN', requires_grad=True)
TRANS = dict(norm_cfg=BN, inplace=False, order=('act', 'conv', 'norm'))
FPG_NECK = dict(
    type='FPG',
    in_channels=R50,
    out_channels=128,
    inter_channels=128,
    num_outs=5,
    add_extra_convs=True,
    start_level=1,
    stack_times=9,
    paths=['bu'] * 9,
    same_down_trans=None,
    same_up_trans=dict(
        type='conv', kernel_size=3, stride=2, padding=1, **TRANS
    ),
    across_lateral_trans=dict(type='conv', kernel_size=1, **TRANS),
    across_down_trans=dict(
        type='interpolation_conv', mode='nearest', kernel_size=3, **TRANS
    ),
    across_up_trans=None,
    across_skip_trans=dict(type='conv', kernel_size=1, **TRANS),
    output_trans=dict(
        type='last_conv',
        kernel_size=3,
        order=('act', 'conv', 'norm'),
        inplace=False,
    ),
    norm_cfg=BN,
    skip_inds=[(0, 1, 2, 3), (0, 1, 2), (0, 1), (0,), ()],
)
DCN_NAS_FCOS = dict(type='DCNv2', deform_groups=2)

# (MMDetection config, its neck dict as written there)
NECKS = {
    'nas_fpn/retinanet_r50_nasfpn_crop640_50e_coco.py': dict(
        type='NASFPN',
        in_channels=R50,
        out_channels=256,
        start_level=1,
        add_extra_convs='on_input',
        num_outs=5,
        stack_times=7,
        norm_cfg=BN,
    ),
    'nas_fcos/nas_fcos_nashead_r50_caffe_fpn_gn-head_4x4_1x_coco.py': dict(
        type='NASFCOS_FPN',
        in_channels=R50,
        out_channels=256,
        start_level=1,
        add_extra_convs=True,
        num_outs=5,
        norm_cfg=dict(type='BN'),
        conv_cfg=DCN_NAS_FCOS,
    ),
    'libra_rcnn/libra_retinanet_r50_fpn_1x_coco.py': [
        dict(
            type='FPN',
            in_channels=R50,
            out_channels=256,
            start_level=1,
            add_extra_convs='on_input',
            num_outs=5,
        ),
        dict(
            type='BFP',
            in_channels=256,
            num_levels=5,
            refine_level=1,
            refine_type='non_local',
        ),
    ],
    'fpg/retinanet_r50_fpg-chn128_crop640_50e_coco.py': FPG_NECK,
    'hrnet/mask_rcnn_hrnetv2p_w18_1x_coco.py': dict(
        type='HRFPN', in_channels=[18, 36, 72, 144], out_channels=256
    ),
    'yolof/yolof_r50_c5_8x8_1x_coco.py': dict(
        type='DilatedEncoder',
        in_channels=2048,
        out_channels=512,
        block_mid_channels=128,
        num_residual_blocks=4,
        block_dilations=[2, 4, 6, 8],
    ),
    'centernet/centernet_resnet18_140e_coco.py': dict(
        type='CTResNetNeck',
        in_channel=512,
        num_deconv_filters=(256, 128, 64),
        num_deconv_kernels=(4, 4, 4),
        use_dcn=False,
    ),
    'centernet/centernet_resnet18_dcnv2_140e_coco.py': dict(
        type='CTResNetNeck',
        in_channel=512,
        num_deconv_filters=(256, 128, 64),
        num_deconv_kernels=(4, 4, 4),
        use_dcn=True,
    ),
    'yolo/yolov3_d53_320_273e_coco.py': dict(
        type='YOLOV3Neck',
        num_scales=3,
        in_channels=[1024, 512, 256],
        out_channels=[512, 256, 128],
    ),
    'yolo/yolov3_mobilenetv2_320_300e_coco.py': dict(
        type='YOLOV3Neck',
        num_scales=3,
        in_channels=[320, 96, 32],
        out_channels=[96, 96, 96],
    ),
    'ssd/ssd300_coco.py': dict(
        type='SSDNeck',
        in_channels=(512, 1024),
        out_channels=(512, 1024, 512, 256, 256, 256),
        level_strides=(2, 2, 1, 1),
        level_paddings=(1, 1, 0, 0),
        l2_norm_scale=20,
    ),
    'ssd/ssd512_coco.py': dict(
        type='SSDNeck',
        in_channels=(512, 1024),
        out_channels=(512, 1024, 512, 256, 256, 256, 256),
        level_strides=(2, 2, 2, 2, 1),
        level_paddings=(1, 1, 1, 1, 1),
        l2_norm_scale=20,
        last_kernel_size=4,
    ),
    'ssd/ssdlite_mobilenetv2_scratch_600e_coco.py': dict(
        type='SSDNeck',
        in_channels=(96, 1280),
        out_channels=(96, 1280, 512, 256, 256, 128),
        level_strides=(2, 2, 2, 2),
        level_paddings=(1, 1, 1, 1),
        l2_norm_scale=None,
        use_depthwise=True,
        norm_cfg=dict(type='BN', eps=0.001, momentum=0.03),
        act_cfg=dict(type='ReLU6'),
        init_cfg=dict(type='TruncNormal', layer='Conv2d', std=0.03),
    ),
    'dyhead/atss_r50_fpn_dyhead_1x_coco.py': [
        dict(
            type='FPN',
            in_channels=R50,
            out_channels=256,
            start_level=1,
            add_extra_convs='on_output',
            num_outs=5,
        ),
        dict(type='DyHead', in_channels=256, out_channels=256, num_blocks=6),
    ],
    'yolox/yolox_s_8x8_300e_coco.py': dict(
        type='YOLOXPAFPN',
        in_channels=[128, 256, 512],
        out_channels=128,
        num_csp_blocks=1,
    ),
    'yolox/yolox_nano_8x8_300e_coco.py': dict(
        type='YOLOXPAFPN',
        in_channels=[64, 128, 256],
        out_channels=64,
        num_csp_blocks=1,
        use_depthwise=True,
    ),
    'deformable_detr/deformable_detr_r50_16x2_50e_coco.py': dict(
        type='ChannelMapper',
        in_channels=[512, 1024, 2048],
        kernel_size=1,
        out_channels=256,
        act_cfg=None,
        norm_cfg=dict(type='GN', num_groups=32),
        num_outs=4,
    ),
}


@pytest.fixture(scope='module')
def reference():
    with gzip.open(REFERENCE, 'rt') as f:
        return json.load(f)


def _without_dcn(cfg):
    """(cfg with DCNv2 swapped for a plain conv, True) when this install
    has no 'DCNv2' conv; the deformable convs' offset branch then is the
    only difference from the reference."""
    if 'DCNv2' in CONV_LAYERS.module_dict:
        return cfg, False
    if cfg.get('use_dcn'):
        return dict(cfg, use_dcn=False), True
    if cfg.get('conv_cfg') == DCN_NAS_FCOS:
        return dict(cfg, conv_cfg=None), True
    return cfg, False


@pytest.mark.parametrize('rel', sorted(NECKS))
def test_neck_matches_mmdetection_state_dict(rel, reference):
    cfg, dcn_dropped = NECKS[rel], False
    if isinstance(cfg, dict):
        cfg, dcn_dropped = _without_dcn(cfg)
    neck = build_neck(cfg)
    got = {k: list(v.shape) for k, v in neck.state_dict().items()}
    expected = {
        k[len('neck.') :]: list(v)
        for k, v in reference[rel]['state_dict'].items()
        if k.startswith('neck.')
    }
    if dcn_dropped:
        offsets = {k for k in expected if '.conv_offset.' in k}
        assert offsets  # the reference did use deformable convs here
        expected = {k: v for k, v in expected.items() if k not in offsets}
    assert sorted(set(expected) - set(got)) == [], 'missing keys'
    assert sorted(set(got) - set(expected)) == [], 'unexpected keys'
    assert got == expected


def _pyramid(channels, size, batch=1):
    """Backbone-like levels, each half the size of the previous."""
    return [
        torch.rand(batch, c, size // 2**i, size // 2**i)
        for i, c in enumerate(channels)
    ]


def test_nasfpn_and_fpg_five_levels():
    ins = _pyramid([8, 16, 32, 64], 64)
    nas = build_neck(
        dict(
            type='NASFPN',
            in_channels=[8, 16, 32, 64],
            out_channels=8,
            start_level=1,
            num_outs=5,
            stack_times=2,
            norm_cfg=BN,
        )
    ).eval()
    fpg = build_neck(
        dict(
            FPG_NECK,
            in_channels=[8, 16, 32, 64],
            out_channels=8,
            inter_channels=8,
            stack_times=3,
            paths=['bu'] * 3,
            skip_inds=[(0, 1), (0,), (), (), ()],
        )
    ).eval()
    for neck in (nas, fpg):
        outs = neck(ins)
        assert [tuple(o.shape) for o in outs] == [
            (1, 8, s, s) for s in (32, 16, 8, 4, 2)
        ]


def test_nasfcos_fpn_shapes():
    ins = _pyramid([8, 16, 32, 64], 64)
    neck = build_neck(
        dict(
            type='NASFCOS_FPN',
            in_channels=[8, 16, 32, 64],
            out_channels=8,
            start_level=1,
            num_outs=5,
            norm_cfg=dict(type='BN'),
        )
    ).eval()
    outs = neck(ins)
    assert [tuple(o.shape) for o in outs] == [
        (1, 8, s, s) for s in (32, 16, 8, 4, 2)
    ]


@pytest.mark.parametrize('neck_type', ['PAFPN', 'FPN_CARAFE'])
def test_pafpn_and_fpn_carafe_shapes(neck_type):
    torch.manual_seed(0)
    neck = build_neck(
        dict(
            type=neck_type, in_channels=[8, 16, 32], out_channels=8, num_outs=4
        )
    ).eval()
    ins = _pyramid([8, 16, 32], 32)
    outs = neck(ins)
    assert [tuple(o.shape) for o in outs] == [
        (1, 8, s, s) for s in (32, 16, 8, 4)
    ]
    # information flows both ways: the finest input reaches the coarsest
    # output only through PAFPN's bottom-up path
    changed = neck([ins[0] * 2] + ins[1:])
    moved = not torch.allclose(changed[2], outs[2])
    assert moved == (neck_type == 'PAFPN')
    assert not torch.allclose(
        neck(ins[:2] + [ins[2] * 2])[0], outs[0]
    )  # top-down


def test_bfp_adds_the_same_balanced_residual_to_every_level():
    ins = _pyramid([4, 4, 4], 16)
    bfp = build_neck(
        dict(type='BFP', in_channels=4, num_levels=3, refine_level=1)
    )
    outs = bfp(ins)
    # independent definition: mean at level-1 size (max pool / nearest)
    f64 = [x.double() for x in ins]
    gathered = [
        torch.nn.functional.max_pool2d(f64[0], 2),
        f64[1],
        f64[2].repeat_interleave(2, 2).repeat_interleave(2, 3),
    ]
    bsf = sum(gathered) / 3
    expected = [
        f64[0] + bsf.repeat_interleave(2, 2).repeat_interleave(2, 3),
        f64[1] + bsf,
        f64[2] + torch.nn.functional.max_pool2d(bsf, 2),
    ]
    for out, exp in zip(outs, expected):
        torch.testing.assert_close(out.double(), exp, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize('refine_type', ['conv', 'non_local'])
def test_bfp_refine_shapes(refine_type):
    ins = _pyramid([8] * 4, 16)
    bfp = build_neck(
        dict(type='BFP', in_channels=8, num_levels=4, refine_type=refine_type)
    )
    assert [o.shape for o in bfp(ins)] == [x.shape for x in ins]


def test_single_output_necks():
    x = [torch.rand(2, 8, 4, 4), torch.rand(2, 16, 2, 2)]
    yolof = build_neck(
        dict(
            type='DilatedEncoder',
            in_channels=16,
            out_channels=8,
            block_mid_channels=4,
            num_residual_blocks=2,
            block_dilations=[2, 4],
        )
    )
    (out,) = yolof(x)
    assert out.shape == (2, 8, 2, 2)
    ct = build_neck(
        dict(
            type='CTResNetNeck',
            in_channel=16,
            num_deconv_filters=(8, 4),
            num_deconv_kernels=(4, 4),
            use_dcn=False,
        )
    )
    (out,) = ct(x)
    assert out.shape == (2, 4, 8, 8)


def test_ct_resnet_neck_init_makes_bilinear_upsampling():
    ct = build_neck(
        dict(
            type='CTResNetNeck',
            in_channel=4,
            num_deconv_filters=(4,),
            num_deconv_kernels=(4,),
            use_dcn=False,
        )
    )
    ct.init_weights()
    deconv = ct.deconv_layers[1].conv
    # as in MMDetection only output channel 0 gets the bilinear kernel
    # (from every input channel); upsampling a constant map through it
    # keeps the inside constant
    x = torch.zeros(1, 4, 4, 4)
    x[:, 0] = 1.0
    y = torch.nn.functional.conv_transpose2d(
        x, deconv.weight, stride=2, padding=1
    )
    assert y.shape[-1] == 8
    torch.testing.assert_close(y[:, 0, 1:-1, 1:-1], torch.ones(1, 6, 6))
    assert torch.equal(
        deconv.weight[:, 0], deconv.weight[:1, 0].expand(4, 4, 4)
    )


def test_yolov3_neck_outputs_coarse_to_fine():
    neck = build_neck(
        dict(
            type='YOLOV3Neck',
            num_scales=3,
            in_channels=[32, 16, 8],
            out_channels=[16, 8, 4],
        )
    )
    outs = neck(_pyramid([8, 16, 32], 16))
    assert [tuple(o.shape) for o in outs] == [
        (1, 16, 4, 4),
        (1, 8, 8, 8),
        (1, 4, 16, 16),
    ]


def test_ssd_neck_l2norm_and_extra_levels():
    neck = build_neck(
        dict(
            type='SSDNeck',
            in_channels=(4, 8),
            out_channels=(4, 8, 8, 4),
            level_strides=(2, 1),
            level_paddings=(1, 0),
            l2_norm_scale=20,
        )
    )
    neck.init_weights()
    assert torch.all(neck.l2_norm.weight == 20)
    ins = [torch.rand(1, 4, 12, 12), torch.rand(1, 8, 6, 6)]
    outs = neck(ins)
    assert [tuple(o.shape) for o in outs] == [
        (1, 4, 12, 12),
        (1, 8, 6, 6),
        (1, 8, 3, 3),
        (1, 4, 1, 1),
    ]
    x = ins[0].double()
    expected = 20 * x / (x.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
    torch.testing.assert_close(
        outs[0].double(), expected, rtol=1e-5, atol=1e-6
    )


def test_channel_mapper_extra_levels():
    neck = build_neck(
        dict(
            type='ChannelMapper',
            in_channels=[4, 8],
            out_channels=6,
            kernel_size=1,
            norm_cfg=dict(type='GN', num_groups=2),
            act_cfg=None,
            num_outs=4,
        )
    )
    outs = neck(_pyramid([4, 8], 16))
    assert [tuple(o.shape) for o in outs] == [
        (1, 6, s, s) for s in (16, 8, 4, 2)
    ]
    assert neck.extra_convs[0].conv.in_channels == 8  # the last input


def test_dyhead_shapes_and_zero_offset_dcn_is_a_conv():
    from mmdet.models.necks.dyhead import DyModulatedDeformConv2d

    torch.manual_seed(0)
    dcn = DyModulatedDeformConv2d(3, 5, 3, stride=2, padding=1).double()
    x = torch.rand(1, 3, 8, 8, dtype=torch.float64)
    offset = torch.zeros(1, 18, 4, 4, dtype=torch.float64)
    mask = torch.full((1, 9, 4, 4), 0.5, dtype=torch.float64)
    expected = 0.5 * torch.nn.functional.conv2d(
        x, dcn.weight, stride=2, padding=1
    ) + dcn.bias.view(1, -1, 1, 1)
    torch.testing.assert_close(dcn(x, offset, mask), expected)

    neck = build_neck(
        dict(type='DyHead', in_channels=8, out_channels=16, num_blocks=2)
    )
    outs = neck(_pyramid([8] * 3, 16))
    assert [tuple(o.shape) for o in outs] == [
        (1, 16, s, s) for s in (16, 8, 4)
    ]


def test_dyrelu_formula():
    from mmdet.models.utils import DyReLU

    torch.manual_seed(0)
    m = DyReLU(8, ratio=4).double()
    x = torch.randn(2, 8, 3, 3, dtype=torch.float64)
    pooled = x.mean((2, 3), keepdim=True)
    hidden = torch.relu(m.conv1.conv(pooled))
    coeffs = (m.conv2.conv(hidden) + 3).clamp(0, 6) / 6 - 0.5
    a1, b1, a2, b2 = coeffs.split(8, dim=1)
    expected = torch.maximum(x * (2 * a1 + 1) + b1, x * 2 * a2 + b2)
    torch.testing.assert_close(m(x), expected)


def test_dcn_reads_a_larger_offset_buffer_as_mmcv_does():
    """Offsets/masks computed at a finer level than the conv's output are
    read from the flat per-sample buffer with the output's row length, as
    mmcv's kernel does (DyHead's coarser-level conv relies on it)."""
    from mmdet.models.necks.dyhead import DyModulatedDeformConv2d

    torch.manual_seed(0)
    dcn = DyModulatedDeformConv2d(2, 3, 3, padding=1, bias=False).double()
    x = torch.rand(1, 2, 2, 2, dtype=torch.float64)
    offset = torch.zeros(1, 18, 4, 4, dtype=torch.float64)
    mask = torch.rand(1, 9, 4, 4, dtype=torch.float64)
    # float64 im2col: columns[c, k, p] for the 2x2 output positions p
    columns = torch.nn.functional.unfold(x, 3, padding=1).view(2, 9, 4)
    used_mask = mask.flatten()[: 9 * 4].view(9, 4)
    expected = torch.einsum(
        'ock,ckp->op', dcn.weight.view(3, 2, 9), columns * used_mask
    ).view(1, 3, 2, 2)
    torch.testing.assert_close(dcn(x, offset, mask), expected)


@pytest.mark.parametrize('use_depthwise', [False, True])
def test_yolox_pafpn_shapes_and_both_directions(use_depthwise):
    torch.manual_seed(0)
    neck = build_neck(
        dict(
            type='YOLOXPAFPN',
            in_channels=[8, 16, 32],
            out_channels=8,
            num_csp_blocks=1,
            use_depthwise=use_depthwise,
        )
    ).eval()
    ins = _pyramid([8, 16, 32], 16)
    outs = neck(ins)
    assert [tuple(o.shape) for o in outs] == [(1, 8, s, s) for s in (16, 8, 4)]
    assert not torch.allclose(neck([ins[0] * 2] + ins[1:])[2], outs[2])
    assert not torch.allclose(neck(ins[:2] + [ins[2] * 2])[0], outs[0])


def test_rfp_own_layers_match_mmdetection_state_dict(reference):
    """RFP's layers outside its feedback backbones (DetectoRS_ResNet,
    checked with the backbones) have the reference keys and shapes."""
    from mmdet.models import BACKBONES

    spec = importlib.util.spec_from_file_location(
        'neck_parity_cases',
        osp.join(osp.dirname(__file__), 'neck_parity_cases.py'),
    )
    cases = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cases)
    if 'RFPStubBackbone' not in BACKBONES.module_dict:
        BACKBONES.register_module(module=cases.RFPStubBackbone)
    neck = build_neck(
        dict(
            type='RFP',
            rfp_steps=2,
            aspp_out_channels=64,
            aspp_dilations=(1, 3, 6, 1),
            rfp_backbone=dict(type='RFPStubBackbone'),
            in_channels=R50,
            out_channels=256,
            num_outs=5,
        )
    )
    rel = 'detectors/detectors_cascade_rcnn_r50_1x_coco.py'

    def own(shapes):
        return {
            k: list(v) for k, v in shapes.items() if 'rfp_modules.' not in k
        }

    got = own({k: v.shape for k, v in neck.state_dict().items()})
    expected = own(
        {
            k[len('neck.') :]: v
            for k, v in reference[rel]['state_dict'].items()
            if k.startswith('neck.')
        }
    )
    assert got == expected
    assert 'rfp_aspp.aspp.3.weight' in got


@pytest.mark.parametrize(
    'upsample_cfg',
    [
        dict(type='nearest'),
        dict(type='bilinear'),
        dict(type='deconv', upsample_kernel=4),
        dict(type='pixel_shuffle', upsample_kernel=3),
    ],
)
def test_fpn_carafe_other_upsamplers(upsample_cfg):
    neck = build_neck(
        dict(
            type='FPN_CARAFE',
            in_channels=[4, 8],
            out_channels=8,
            num_outs=3,
            upsample_cfg=upsample_cfg,
        )
    )
    outs = neck([torch.rand(1, 4, 9, 9), torch.rand(1, 8, 5, 5)])
    assert [tuple(o.shape[2:]) for o in outs] == [(9, 9), (5, 5), (3, 3)]


@pytest.mark.parametrize(
    'cfg',
    [
        dict(type='BFP', in_channels=4, num_levels=3, refine_type='gc'),
        dict(type='BFP', in_channels=4, num_levels=3, refine_level=3),
        dict(
            type='FPN_CARAFE',
            in_channels=[4, 8],
            out_channels=8,
            num_outs=2,
            upsample_cfg=dict(type='deconv'),
        ),
        dict(
            type='NASFPN',
            in_channels=[4, 8],
            out_channels=8,
            num_outs=4,
            stack_times=1,
        ),
        dict(
            type='FPG',
            in_channels=[4, 8],
            out_channels=8,
            num_outs=2,
            stack_times=1,
            paths=['up'],
        ),
        dict(
            type='YOLOV3Neck',
            num_scales=2,
            in_channels=[8],
            out_channels=[4, 4],
        ),
        dict(type='DyHead', in_channels=4, out_channels=4, init_cfg=dict()),
    ],
)
def test_invalid_arguments_are_refused(cfg):
    from mmdet.utils.arg_errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError):
        build_neck(cfg)
