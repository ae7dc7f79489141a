"""Deformable RoI pooling against torchvision's RoIAlign (no offsets) and
a float64 per-sample loop written out here (with offsets)."""

import math

import pytest
import torch
from torchvision.ops import roi_align

from mmdet.models.roi_heads.roi_extractors import (
    DeformRoIPool,
    DeformRoIPoolPack,
    ModulatedDeformRoIPoolPack,
    SingleRoIExtractor,
    deform_roi_pool,
)

ROIS = torch.tensor(
    [
        [0, 3.3, 4.1, 50.2, 60.7],
        [1, 0.0, 0.0, 90.0, 70.0],
        [0, -10.0, -5.0, 20.0, 30.0],  # partly outside the map
        [1, 10.0, 10.0, 12.0, 11.0],  # smaller than a bin
    ],
    dtype=torch.float64,
)


def bilinear_roialign(feat, y, x):
    """RoIAlign's sampling rule, one point: 0 beyond one pixel outside,
    else clamped into the map and bilinearly interpolated."""
    _, h, w = feat.shape
    if y < -1 or y > h or x < -1 or x > w:
        return feat.new_zeros(feat.shape[0])
    y, x = min(max(y, 0.0), h - 1), min(max(x, 0.0), w - 1)
    y0, x0 = math.floor(y), math.floor(x)
    y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
    ly, lx = y - y0, x - x0
    return (
        feat[:, y0, x0] * (1 - ly) * (1 - lx)
        + feat[:, y0, x1] * (1 - ly) * lx
        + feat[:, y1, x0] * ly * (1 - lx)
        + feat[:, y1, x1] * ly * lx
    )


def reference(feat, rois, offset, size, scale, ratio, gamma):
    """Bin (i, j) of RoI k: the average of a grid of samples in the bin,
    the bin moved by gamma * (roi_w * offset[k, 0], roi_h * offset[k, 1])
    (feature pixels, RoI corners shifted by -0.5)."""
    out = feat.new_zeros(len(rois), feat.shape[1], size, size)
    for k, (b, *box) in enumerate(rois.tolist()):
        x1, y1, x2, y2 = (v * scale - 0.5 for v in box)
        rw, rh = x2 - x1, y2 - y1
        bw, bh = rw / size, rh / size
        gw = ratio or math.ceil(bw)
        gh = ratio or math.ceil(bh)
        for i in range(size):
            for j in range(size):
                dx = gamma * rw * float(offset[k, 0, i, j])
                dy = gamma * rh * float(offset[k, 1, i, j])
                acc = 0
                for iy in range(gh):
                    for ix in range(gw):
                        y = y1 + dy + i * bh + (iy + 0.5) * bh / gh
                        x = x1 + dx + j * bw + (ix + 0.5) * bw / gw
                        acc = acc + bilinear_roialign(feat[int(b)], y, x)
                out[k, :, i, j] = acc / (gh * gw)
    return out


@pytest.mark.parametrize('ratio', [0, 2])
def test_without_offsets_equals_roi_align(ratio):
    torch.manual_seed(0)
    feat = torch.randn(2, 3, 20, 24, dtype=torch.float64)
    out = deform_roi_pool(feat, ROIS, None, 7, 0.25, ratio)
    expected = roi_align(feat, ROIS, 7, 0.25, ratio, aligned=True)
    assert torch.allclose(out, expected, atol=1e-12)


@pytest.mark.parametrize('ratio', [0, 2])
def test_offsets_equal_the_per_sample_loop(ratio):
    torch.manual_seed(0)
    feat = torch.randn(2, 2, 12, 14, dtype=torch.float64)
    offset = torch.randn(len(ROIS), 2, 3, 3, dtype=torch.float64)
    out = deform_roi_pool(feat, ROIS, offset, 3, 0.25, ratio, gamma=0.3)
    expected = reference(feat, ROIS, offset, 3, 0.25, ratio, 0.3)
    assert torch.allclose(out, expected, atol=1e-10)


def test_gradients_reach_features_and_offsets():
    torch.manual_seed(0)
    feat = torch.randn(2, 2, 12, 14, dtype=torch.float64, requires_grad=True)
    offset = (
        torch.randn(2, 2, 2, 2, dtype=torch.float64) * 0.2
    ).requires_grad_()
    rois = ROIS[:2] / 4

    def fn(feat, offset):
        return deform_roi_pool(feat, rois, offset, 2, 1.0, 2, 0.1)

    assert torch.autograd.gradcheck(fn, (feat, offset), atol=1e-6)


def test_packs_start_as_roi_align_and_keep_mmcv_keys():
    torch.manual_seed(0)
    feat = torch.randn(2, 8, 20, 24)
    rois = ROIS.float()
    plain = roi_align(feat, rois, 7, 0.25, 0, aligned=True)
    v1 = DeformRoIPoolPack(7, 8, deform_fc_channels=16, spatial_scale=0.25)
    assert torch.allclose(v1(feat, rois), plain, atol=1e-5)
    v2 = ModulatedDeformRoIPoolPack(7, 8, 16, spatial_scale=0.25)
    assert torch.allclose(v2(feat, rois), 0.5 * plain, atol=1e-5)
    assert sorted(k for k in v2.state_dict() if k.endswith('weight')) == [
        'mask_fc.0.weight',
        'mask_fc.2.weight',
        'offset_fc.0.weight',
        'offset_fc.2.weight',
        'offset_fc.4.weight',
    ]
    assert v2.offset_fc[4].out_features == 7 * 7 * 2
    assert v2.mask_fc[2].out_features == 7 * 7
    with pytest.raises(AssertionError, match='output_channels'):
        v1(torch.randn(1, 4, 10, 10), rois[:1])


def test_an_extractor_builds_one_pack_per_level():
    extractor = SingleRoIExtractor(
        roi_layer=dict(
            type='DeformRoIPoolPack', output_size=7, output_channels=8
        ),
        out_channels=8,
        featmap_strides=[4, 8],
    )
    assert [layer.spatial_scale for layer in extractor.roi_layers] == [
        0.25,
        0.125,
    ]
    feats = (torch.randn(1, 8, 16, 16), torch.randn(1, 8, 8, 8))
    rois = torch.tensor([[0, 4.0, 4.0, 40.0, 30.0]])
    assert extractor(feats, rois).shape == (1, 8, 7, 7)
    assert isinstance(DeformRoIPool(7), torch.nn.Module)
