"""Deformable RoI pooling and SimpleRoIAlign against a loop-by-loop float64
definition (mmcv's kernel: per bin, per sample, bilinear with its border
rule), gradients to the offsets, and the Pack layers' start state."""

import math

import pytest
import torch
from torchvision.ops import roi_align

from mmdet.models.roi_heads.roi_extractors import (
    DeformRoIPoolPack,
    ModulatedDeformRoIPoolPack,
    SimpleRoIAlign,
)
from mmdet.models.roi_heads.roi_extractors.deform_roi_pool import (
    deform_roi_pool,
)


def bilinear(feat, y, x):
    """feat (C, H, W) at (y, x): 0 beyond -1 / H, clamped inside."""
    height, width = feat.shape[1:]
    if y < -1 or y > height or x < -1 or x > width:
        return torch.zeros(feat.size(0), dtype=torch.float64)
    y, x = min(max(y, 0.0), height - 1), min(max(x, 0.0), width - 1)
    y0, x0 = int(math.floor(y)), int(math.floor(x))
    y1, x1 = min(y0 + 1, height - 1), min(x0 + 1, width - 1)
    ly, lx = y - y0, x - x0
    return (
        (1 - ly) * (1 - lx) * feat[:, y0, x0]
        + (1 - ly) * lx * feat[:, y0, x1]
        + ly * (1 - lx) * feat[:, y1, x0]
        + ly * lx * feat[:, y1, x1]
    )


def reference_pool(feats, rois, offset, size, scale, ratio, gamma):
    feats = feats.double()
    out = torch.zeros(
        len(rois), feats.size(1), size, size, dtype=torch.float64
    )
    for k, (b, *box) in enumerate(rois.tolist()):
        x1, y1, x2, y2 = [v * scale - 0.5 for v in box]
        roi_w, roi_h = x2 - x1, y2 - y1
        bin_w, bin_h = roi_w / size, roi_h / size
        gh = ratio or math.ceil(roi_h / size)
        gw = ratio or math.ceil(roi_w / size)
        for ph in range(size):
            for pw in range(size):
                sx, sy = x1, y1
                if offset is not None:
                    sx += gamma * roi_w * offset[k, 0, ph, pw].item()
                    sy += gamma * roi_h * offset[k, 1, ph, pw].item()
                acc = 0
                for iy in range(gh):
                    y = sy + ph * bin_h + (iy + 0.5) * bin_h / gh
                    for ix in range(gw):
                        x = sx + pw * bin_w + (ix + 0.5) * bin_w / gw
                        acc = acc + bilinear(feats[int(b)], y, x)
                out[k, :, ph, pw] = acc / max(gh * gw, 1)
    return out


def inputs():
    gen = torch.Generator().manual_seed(0)
    feats = torch.randn(2, 3, 12, 10, generator=gen)
    # inside, across the border, small, and tall (other sample grids)
    rois = torch.tensor(
        [
            [0, 4.0, 6.0, 30.0, 28.0],
            [1, -6.0, 30.0, 22.0, 52.0],
            [1, 10.0, 10.0, 13.0, 12.0],
            [0, 8.0, 0.0, 14.0, 46.0],
        ]
    )
    offset = torch.randn(4, 2, 3, 3, generator=gen) * 0.5
    return feats, rois, offset


@pytest.mark.parametrize('ratio', [0, 2])
def test_deform_roi_pool_matches_definition(ratio):
    feats, rois, offset = inputs()
    out = deform_roi_pool(feats, rois, offset, 3, 0.25, ratio, 0.1)
    expected = reference_pool(feats, rois, offset, 3, 0.25, ratio, 0.1)
    torch.testing.assert_close(out.double(), expected, rtol=1e-5, atol=1e-5)
    plain = deform_roi_pool(feats, rois, None, 3, 0.25, ratio, 0.1)
    expected = reference_pool(feats, rois, None, 3, 0.25, ratio, 0.1)
    torch.testing.assert_close(plain.double(), expected, rtol=1e-5, atol=1e-5)


def test_offsets_get_gradients():
    feats, rois, offset = inputs()
    feats = feats.double().requires_grad_()
    offset = offset.double().requires_grad_()
    torch.autograd.gradcheck(
        lambda f, o: deform_roi_pool(f, rois[:1], o[:1], 3, 0.25, 2, 0.1),
        (feats, offset),
    )


def test_packs_start_undeformed_and_keep_mmcv_keys():
    feats, rois, _ = inputs()
    pack = DeformRoIPoolPack(3, 3, deform_fc_channels=8, spatial_scale=0.25)
    assert sorted(pack.state_dict()) == [
        f'offset_fc.{i}.{p}' for i in (0, 2, 4) for p in ('bias', 'weight')
    ]
    assert pack.offset_fc[0].weight.shape == (8, 27)
    assert pack.offset_fc[4].weight.shape == (18, 8)
    plain = roi_align(feats, rois, 3, 0.25, 0, aligned=True)
    torch.testing.assert_close(pack(feats, rois), plain)
    modulated = ModulatedDeformRoIPoolPack(
        3, 3, deform_fc_channels=8, spatial_scale=0.25
    )
    assert modulated.mask_fc[2].weight.shape == (9, 8)
    torch.testing.assert_close(modulated(feats, rois), plain * 0.5)
    with pytest.raises(ValueError, match='output_channels'):
        pack(feats[:, :2], rois)
    # trained a step, the offsets move the bins
    out = pack(feats, rois)
    out.sum().backward()
    assert pack.offset_fc[4].weight.grad.abs().sum() > 0


@pytest.mark.parametrize('aligned', [True, False])
def test_simple_roi_align_samples_bin_centres(aligned):
    feats, rois, _ = inputs()
    rois = rois[[0, 2]]  # samples inside the map: no padding rule involved
    layer = SimpleRoIAlign(3, 0.25, aligned=aligned)
    out = layer(feats, rois)
    height, width = feats.shape[2:]
    for k, (b, x1, y1, x2, y2) in enumerate(rois.tolist()):
        for i in range(3):
            for j in range(3):
                x = (x1 + (j + 0.5) / 3 * (x2 - x1)) * 0.25
                y = (y1 + (i + 0.5) / 3 * (y2 - y1)) * 0.25
                if aligned:
                    x, y = x - 0.5, y - 0.5
                else:  # align_corners: the map spans W - 1 pixels
                    x, y = x * (width - 1) / width, y * (height - 1) / height
                expected = bilinear(feats[int(b)].double(), y, x)
                torch.testing.assert_close(
                    out[k, :, i, j].double(), expected, rtol=1e-5, atol=1e-5
                )
