"""Deformable convs v1/v2 ('DCN', 'DCNv2') against a float64 formula
written out here: bilinear sampling at the offset kernel points, zero
outside the image, per deformable group and conv group."""

import math

import pytest
import torch
import torch.nn as nn
from mmcv.cnn import CONV_LAYERS, build_conv_layer
from mmcv.runner import load_state_dict

from mmdet.models.utils import (
    DeformConv2d,
    DeformConv2dPack,
    ModulatedDeformConv2d,
    ModulatedDeformConv2dPack,
)


def bilinear_zero_outside(img, y, x):
    """img (C, H, W); y, x (Ho, Wo) float positions -> (C, Ho, Wo); each of
    the four neighbours contributes only if it lies inside the image."""
    _, h, w = img.shape
    y0, x0 = torch.floor(y), torch.floor(x)
    out = img.new_zeros(img.shape[0], *y.shape)
    for dy in (0, 1):
        for dx in (0, 1):
            yy, xx = y0 + dy, x0 + dx
            weight = (1 - (y - yy).abs()) * (1 - (x - xx).abs())
            inside = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
            yi = yy.clamp(0, h - 1).long()
            xi = xx.clamp(0, w - 1).long()
            out += img[:, yi, xi] * (weight * inside)
    return out


def reference_deform_conv(
    x, offset, weight, bias, mask, stride, pad, dil, groups, dgroups
):
    """out[b, o, i, j] = bias[o] + sum over the input channels of o's conv
    group and the kernel points k of weight[o, c, k] * mask[b, g, k, i, j]
    * bilinear(x[b, c], p(i, j, k) + offset[b, g, k]); g = the deformable
    group of channel c; offsets are (dy, dx) pairs per kernel point."""
    b, c_in, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    ho = (h + 2 * pad - dil * (kh - 1) - 1) // stride + 1
    wo = (w + 2 * pad - dil * (kw - 1) - 1) // stride + 1
    base_y = (torch.arange(ho, dtype=x.dtype) * stride - pad)[:, None]
    base_x = (torch.arange(wo, dtype=x.dtype) * stride - pad)[None, :]
    per_dg, per_g_in, per_g_out = (
        c_in // dgroups,
        c_in // groups,
        c_out // groups,
    )
    off = offset.view(b, dgroups, kh * kw, 2, ho, wo)
    out = x.new_zeros(b, c_out, ho, wo)
    for n in range(b):
        for c in range(c_in):
            g = c // per_dg
            for k in range(kh * kw):
                ki, kj = divmod(k, kw)
                y = base_y + ki * dil + off[n, g, k, 0]
                xx = base_x + kj * dil + off[n, g, k, 1]
                sample = bilinear_zero_outside(x[n, c : c + 1], y, xx)[0]
                if mask is not None:
                    sample = (
                        sample
                        * mask.view(b, dgroups, kh * kw, ho, wo)[n, g, k]
                    )
                grp = c // per_g_in
                outs = slice(grp * per_g_out, (grp + 1) * per_g_out)
                w_k = weight[outs, c - grp * per_g_in, ki, kj]
                out[n, outs] += w_k[:, None, None] * sample
    if bias is not None:
        out += bias[None, :, None, None]
    return out


def random_offsets(shape, seed):
    """Integer steps, fractional ones and some far outside the image."""
    g = torch.Generator().manual_seed(seed)
    integer = torch.randint(-2, 3, shape, generator=g).double()
    fraction = torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1
    far = (torch.rand(shape, generator=g) < 0.1).double() * 9
    choose = torch.randint(0, 2, shape, generator=g).bool()
    return torch.where(choose, integer, fraction) + far


CASES = [
    # stride, padding, dilation, groups, deform_groups
    (1, 1, 1, 1, 1),
    (1, 1, 1, 2, 2),
    (2, 2, 2, 1, 2),
]


@pytest.mark.parametrize('stride,pad,dil,groups,dgroups', CASES)
def test_deform_conv_equals_formula(stride, pad, dil, groups, dgroups):
    torch.manual_seed(0)
    conv = DeformConv2d(
        4, 6, 3, stride, pad, dil, groups=groups, deform_groups=dgroups
    ).double()
    x = torch.randn(2, 4, 5, 6, dtype=torch.float64)
    ho = (5 + 2 * pad - 2 * dil - 1) // stride + 1
    wo = (6 + 2 * pad - 2 * dil - 1) // stride + 1
    offset = random_offsets((2, dgroups * 18, ho, wo), seed=1)
    expected = reference_deform_conv(
        x, offset, conv.weight, None, None, stride, pad, dil, groups, dgroups
    )
    assert torch.allclose(conv(x, offset), expected, atol=1e-10)


@pytest.mark.parametrize('stride,pad,dil,groups,dgroups', CASES)
def test_modulated_deform_conv_equals_formula(
    stride, pad, dil, groups, dgroups
):
    torch.manual_seed(0)
    conv = ModulatedDeformConv2d(
        4, 6, 3, stride, pad, dil, groups=groups, deform_groups=dgroups
    ).double()
    nn.init.normal_(conv.bias)
    x = torch.randn(2, 4, 5, 6, dtype=torch.float64)
    ho = (5 + 2 * pad - 2 * dil - 1) // stride + 1
    wo = (6 + 2 * pad - 2 * dil - 1) // stride + 1
    offset = random_offsets((2, dgroups * 18, ho, wo), seed=2)
    mask = torch.rand(2, dgroups * 9, ho, wo, dtype=torch.float64)
    expected = reference_deform_conv(
        x, offset, conv.weight, conv.bias, mask, stride, pad, dil, groups,
        dgroups,
    )  # fmt: skip
    assert torch.allclose(conv(x, offset, mask), expected, atol=1e-10)


def test_pack_v2_splits_offsets_and_sigmoid_mask():
    """conv_offset's first two thirds of channels are the offsets, the last
    third the mask logits."""
    torch.manual_seed(0)
    conv = ModulatedDeformConv2dPack(4, 4, 3, padding=1, deform_groups=2)
    conv = conv.double()
    nn.init.normal_(conv.conv_offset.weight, std=0.3)
    nn.init.normal_(conv.conv_offset.bias)
    x = torch.randn(1, 4, 5, 5, dtype=torch.float64)
    raw = conv.conv_offset(x)
    assert raw.shape[1] == 2 * 9 * 3
    expected = reference_deform_conv(
        x, raw[:, :36], conv.weight, conv.bias, raw[:, 36:].sigmoid(),
        1, 1, 1, 1, 2,
    )  # fmt: skip
    assert torch.allclose(conv(x), expected, atol=1e-10)


def test_pack_v1_uses_conv_offset():
    torch.manual_seed(0)
    conv = DeformConv2dPack(4, 4, 3, stride=2, padding=1).double()
    nn.init.normal_(conv.conv_offset.weight, std=0.3)
    x = torch.randn(1, 4, 7, 7, dtype=torch.float64)
    expected = reference_deform_conv(
        x, conv.conv_offset(x), conv.weight, None, None, 2, 1, 1, 1, 1
    )
    assert torch.allclose(conv(x), expected, atol=1e-10)


def test_zero_offsets_are_a_plain_conv():
    """A new pack starts with zero offsets (v2: mask 0.5 everywhere)."""
    torch.manual_seed(0)
    v1 = DeformConv2dPack(3, 5, 3, padding=1)
    v2 = ModulatedDeformConv2dPack(3, 5, 3, padding=1)
    nn.init.normal_(v2.bias)
    x = torch.randn(2, 3, 6, 7)
    assert torch.count_nonzero(v1.conv_offset.weight) == 0
    plain = nn.functional.conv2d(x, v1.weight, padding=1)
    assert torch.allclose(v1(x), plain, atol=1e-5)
    half = 0.5 * nn.functional.conv2d(x, v2.weight, padding=1)
    assert torch.allclose(v2(x), half + v2.bias[:, None, None], atol=1e-5)


def test_gradients_match_finite_differences():
    """gradcheck of the v2 module with respect to input, offsets, mask,
    weight and bias (v1 is v2 with mask 1)."""
    torch.manual_seed(0)
    conv = ModulatedDeformConv2d(2, 2, 3, padding=1, deform_groups=2)
    conv = conv.double()
    x = torch.randn(1, 2, 4, 4, dtype=torch.float64)
    # fractional offsets keep bilinear sampling away from its kinks
    magnitude = torch.rand(1, 36, 4, 4, dtype=torch.float64) * 0.8 + 0.1
    sign = torch.randint(0, 2, magnitude.shape) * 2 - 1
    offset = magnitude * sign
    mask = torch.rand(1, 18, 4, 4, dtype=torch.float64)
    params = (conv.weight.detach(), torch.randn(2, dtype=torch.float64))
    inputs = tuple(t.clone().requires_grad_() for t in (x, offset, mask))
    params = tuple(t.clone().requires_grad_() for t in params)

    def fn(x, offset, mask, weight, bias):
        state = {'weight': weight, 'bias': bias}
        return torch.func.functional_call(conv, state, (x, offset, mask))

    assert torch.autograd.gradcheck(fn, inputs + params, eps=1e-6, atol=1e-5)


def test_registered_and_built_as_conv_layers():
    assert CONV_LAYERS.get('DCN') is not None
    assert CONV_LAYERS.get('DCNv2') is not None
    dcn = build_conv_layer(
        dict(type='DCN', deform_groups=2), 8, 8, 3, padding=1, bias=False
    )
    assert isinstance(dcn, DeformConv2d)
    assert dcn.conv_offset.out_channels == 2 * 2 * 9
    dcnv2 = build_conv_layer(
        dict(type='DCNv2', deformable_groups=4), 8, 8, 3, bias=False
    )
    assert dcnv2.deform_groups == 4 and dcnv2.bias is None
    assert sorted(dict(dcnv2.named_parameters())) == [
        'conv_offset.bias',
        'conv_offset.weight',
        'weight',
    ]
    assert dcnv2.conv_offset.out_channels == 4 * 3 * 9


def test_bias_refused_for_v1():
    with pytest.raises(AssertionError, match='bias'):
        DeformConv2dPack(4, 4, 3, bias=True)


def test_old_offset_keys_load():
    """Checkpoints from before mmcv's version 2 store ``conv2_offset``
    beside ``conv2``; mmcv's loader (``load_checkpoint``) hands every
    module the whole state dict, so the layer can move them (torch's own
    ``load_state_dict`` gives each child only its own keys). As with
    mmcv-full, the parent still reports the old names as unexpected, so
    such checkpoints load non-strictly."""
    parent = nn.Module()
    parent.conv2 = DeformConv2dPack(4, 4, 3, padding=1)
    state = {
        'conv2.weight': torch.randn(4, 4, 3, 3),
        'conv2_offset.weight': torch.randn(18, 4, 3, 3),
        'conv2_offset.bias': torch.randn(18),
    }
    load_state_dict(parent, dict(state), strict=False)
    assert torch.equal(
        parent.conv2.conv_offset.weight, state['conv2_offset.weight']
    )
    # a version-2 checkpoint (saved by this module) round-trips
    saved = parent.state_dict()
    assert saved._metadata['conv2']['version'] == 2
    fresh = nn.Module()
    fresh.conv2 = DeformConv2dPack(4, 4, 3, padding=1)
    fresh.load_state_dict(saved, strict=True)


def test_v2_init_bound():
    conv = ModulatedDeformConv2d(8, 4, 3)
    bound = 1 / math.sqrt(8 * 9)
    assert conv.weight.abs().max() <= bound
    assert torch.count_nonzero(conv.bias) == 0


def test_anchor_free_head_dcn_on_last_conv():
    """MMDetection's ``dcn_on_last_conv``: the last conv of both towers is
    a DCNv2 (bias-free under a norm)."""
    from mmdet.models import build_head

    head = build_head(
        dict(
            type='FCOSHead',
            num_classes=3,
            in_channels=8,
            feat_channels=8,
            stacked_convs=2,
            norm_cfg=dict(type='GN', num_groups=4),
            dcn_on_last_conv=True,
        )
    )
    for tower in (head.cls_convs, head.reg_convs):
        assert type(tower[0].conv) is nn.Conv2d
        assert isinstance(tower[-1].conv, ModulatedDeformConv2dPack)
        assert tower[-1].conv.bias is None
    scores = head([torch.rand(1, 8, 6, 6)])[0]
    assert scores[0].shape == (1, 3, 6, 6)
