"""Neck configs, inputs and weights whose outputs MMDetection 2.28.2
computed (tests/data/reference/necks_mmdet228.json); no mmdet import, so
the same cases can be run against either implementation."""

import torch
import torch.nn.functional as F
from torch import nn

BN = dict(type='BN', requires_grad=True)
_T = dict(norm_cfg=BN, inplace=False, order=('act', 'conv', 'norm'))
_FPG = dict(
    type='FPG',
    in_channels=[4, 8, 16, 32],
    out_channels=8,
    inter_channels=8,
    num_outs=5,
    add_extra_convs=True,
    start_level=1,
    stack_times=3,
    paths=['bu'] * 3,
    same_down_trans=None,
    same_up_trans=dict(type='conv', kernel_size=3, stride=2, padding=1, **_T),
    across_lateral_trans=dict(type='conv', kernel_size=1, **_T),
    across_down_trans=dict(
        type='interpolation_conv', mode='nearest', kernel_size=3, **_T
    ),
    across_up_trans=None,
    across_skip_trans=dict(type='conv', kernel_size=1, **_T),
    output_trans=dict(
        type='last_conv',
        kernel_size=3,
        order=('act', 'conv', 'norm'),
        inplace=False,
    ),
    norm_cfg=BN,
    skip_inds=[(0, 1, 2), (0, 1), (0,), (), ()],
)
R4 = [4, 8, 16, 32]

# name -> (neck config, input channels, finest height, batch); each level
# is ceil-half the previous, widths are heights + 3 (odd sizes included)
CASES = {
    'PAFPN': (
        dict(type='PAFPN', in_channels=R4, out_channels=8, num_outs=5),
        R4,
        32,
        2,
    ),
    'PAFPN_extra': (
        dict(
            type='PAFPN',
            in_channels=R4,
            out_channels=8,
            num_outs=6,
            start_level=1,
            add_extra_convs='on_output',
            relu_before_extra_convs=True,
        ),
        R4,
        32,
        1,
    ),
    'NASFPN': (
        dict(
            type='NASFPN',
            in_channels=R4,
            out_channels=8,
            start_level=1,
            num_outs=5,
            stack_times=2,
            norm_cfg=BN,
        ),
        R4,
        41,
        1,
    ),
    'NASFCOS_FPN': (
        dict(
            type='NASFCOS_FPN',
            in_channels=R4,
            out_channels=8,
            start_level=1,
            num_outs=5,
            norm_cfg=dict(type='BN'),
        ),
        R4,
        41,
        1,
    ),
    'BFP_non_local': (
        dict(
            type='BFP',
            in_channels=8,
            num_levels=5,
            refine_level=1,
            refine_type='non_local',
        ),
        [8] * 5,
        37,
        1,
    ),
    'FPG': (_FPG, R4, 64, 1),
    'FPN_CARAFE': (
        dict(
            type='FPN_CARAFE',
            in_channels=[4, 8, 16],
            out_channels=8,
            num_outs=4,
            upsample_cfg=dict(
                type='carafe',
                up_kernel=5,
                up_group=2,
                encoder_kernel=3,
                encoder_dilation=1,
                compressed_channels=4,
            ),
        ),
        [4, 8, 16],
        16,
        1,
    ),
    'HRFPN': (
        dict(type='HRFPN', in_channels=R4, out_channels=8),
        R4,
        32,
        2,
    ),
    'HRFPN_max': (
        dict(
            type='HRFPN',
            in_channels=R4,
            out_channels=8,
            num_outs=3,
            pooling_type='MAX',
        ),
        R4,
        32,
        1,
    ),
    'ChannelMapper': (
        dict(
            type='ChannelMapper',
            in_channels=[4, 8, 16],
            kernel_size=1,
            out_channels=8,
            act_cfg=None,
            norm_cfg=dict(type='GN', num_groups=4),
            num_outs=5,
        ),
        [4, 8, 16],
        32,
        2,
    ),
    'DilatedEncoder': (
        dict(
            type='DilatedEncoder',
            in_channels=16,
            out_channels=8,
            block_mid_channels=4,
            num_residual_blocks=4,
            block_dilations=[2, 4, 6, 8],
        ),
        [4, 16],
        16,
        2,
    ),
    'CTResNetNeck': (
        dict(
            type='CTResNetNeck',
            in_channel=16,
            num_deconv_filters=(8, 4),
            num_deconv_kernels=(4, 4),
            use_dcn=False,
        ),
        [4, 16],
        16,
        2,
    ),
    'YOLOV3Neck': (
        dict(
            type='YOLOV3Neck',
            num_scales=3,
            in_channels=[32, 16, 8],
            out_channels=[16, 8, 4],
        ),
        [8, 16, 32],
        16,
        2,
    ),
    'SSDNeck': (
        dict(
            type='SSDNeck',
            in_channels=(8, 16),
            out_channels=(8, 16, 8, 8, 4),
            level_strides=(2, 2, 1),
            level_paddings=(1, 1, 0),
            l2_norm_scale=20,
            last_kernel_size=2,
        ),
        [8, 16],
        32,
        2,
    ),
    'SSDNeck_lite': (
        dict(
            type='SSDNeck',
            in_channels=(8, 16),
            out_channels=(8, 16, 8, 8),
            level_strides=(2, 2),
            level_paddings=(1, 1),
            l2_norm_scale=None,
            use_depthwise=True,
            norm_cfg=dict(type='BN', eps=0.001, momentum=0.03),
            act_cfg=dict(type='ReLU6'),
        ),
        [8, 16],
        32,
        2,
    ),
    'YOLOXPAFPN': (
        dict(
            type='YOLOXPAFPN',
            in_channels=[8, 16, 32],
            out_channels=8,
            num_csp_blocks=2,
        ),
        [8, 16, 32],
        16,
        2,
    ),
    'YOLOXPAFPN_depthwise': (
        dict(
            type='YOLOXPAFPN',
            in_channels=[8, 16, 32],
            out_channels=8,
            num_csp_blocks=1,
            use_depthwise=True,
        ),
        [8, 16, 32],
        16,
        2,
    ),
}


class RFPStubBackbone(nn.Module):
    """Stands in for DetectoRS_ResNet in RFP's feedback: level i =
    1x1 conv of the image pooled by 4 * 2**i + 1x1 conv of rfp_feats[i]."""

    def __init__(self, channels=(4, 8, 16, 32), rfp_channels=(8, 16, 16, 16)):
        super().__init__()
        self.stems = nn.ModuleList(nn.Conv2d(3, c, 1) for c in channels)
        self.rfp_convs = nn.ModuleList(
            nn.Conv2d(r, c, 1) for r, c in zip(rfp_channels, channels)
        )

    def init_weights(self):
        pass

    def rfp_forward(self, img, rfp_feats):
        return tuple(
            stem(F.avg_pool2d(img, 4 * 2**i)) + conv(feat)
            for i, (stem, conv, feat) in enumerate(
                zip(self.stems, self.rfp_convs, rfp_feats)
            )
        )


CASES['RFP'] = (
    dict(
        type='RFP',
        rfp_steps=3,
        rfp_backbone=dict(type='RFPStubBackbone'),
        aspp_out_channels=4,
        in_channels=R4,
        out_channels=8,
        num_outs=4,
    ),
    R4,
    16,
    2,
)

# inputs with widths equal to heights, halving exactly (the necks that
# need it: fixed 2x upsampling, or PAFPN's stride-2 sums)
EVEN = {
    'YOLOV3Neck',
    'YOLOXPAFPN',
    'YOLOXPAFPN_depthwise',
    'PAFPN',
    'PAFPN_extra',
    'FPG',
    'HRFPN',
    'HRFPN_max',
    'RFP',
}


def make_inputs(name):
    """The case's input levels from a fixed generator."""
    _, channels, height, batch = CASES[name]
    gen = torch.Generator().manual_seed(2)
    extra = 0 if name in EVEN else 3
    levels, h = [], height
    for c in channels:
        levels.append(torch.randn(batch, c, h, h + extra, generator=gen))
        h = -(-h // 2)
    if CASES[name][0]['type'] == 'RFP':  # the image comes first
        img = torch.randn(batch, 3, 4 * height, 4 * height, generator=gen)
        levels.insert(0, img)
    return levels


def set_weights(module):
    """Every floating state-dict entry (sorted by name) := U[0.5, 1)."""
    gen = torch.Generator().manual_seed(1)
    state = module.state_dict()
    for key in sorted(state):
        if state[key].is_floating_point():
            values = torch.rand(state[key].shape, generator=gen) * 0.5 + 0.5
            state[key].copy_(values)


def fingerprint(t):
    """Shape, sum, absolute sum and about 50 evenly spaced values."""
    flat = t.detach().double().flatten()
    step = max(1, flat.numel() // 50)
    return dict(
        shape=list(t.shape),
        sum=flat.sum().item(),
        abs_sum=flat.abs().sum().item(),
        samples=flat[::step].tolist(),
    )
