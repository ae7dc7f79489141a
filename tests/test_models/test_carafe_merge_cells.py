"""CARAFE's reassembly against a direct float64 loop, CARAFEPack's kernel
normalisation and registration, and the NAS-FPN/NAS-FCOS merge cells."""

import pytest
import torch
import torch.nn.functional as F
from mmcv.cnn import build_upsample_layer

from mmdet.models.utils import (
    CARAFEPack,
    ConcatCell,
    GlobalPoolingCell,
    SumCell,
)
from mmdet.models.utils.carafe import carafe


def carafe_loop(feat, mask, k, groups, s):
    """out[n,c,y,x] = sum_window feat[n,c,y//s+dy,x//s+dx] *
    mask[n, g*k*k + (dy+r)*k + (dx+r), y, x], zero outside."""
    n, c, h, w = feat.shape
    r = (k - 1) // 2
    out = torch.zeros(n, c, h * s, w * s, dtype=torch.float64)
    for b in range(n):
        for ch in range(c):
            g = ch // (c // groups)
            for y in range(h * s):
                for x in range(w * s):
                    acc = 0.0
                    for dy in range(-r, r + 1):
                        for dx in range(-r, r + 1):
                            sy, sx = y // s + dy, x // s + dx
                            if 0 <= sy < h and 0 <= sx < w:
                                m = mask[b, g * k * k + (dy + r) * k + dx + r]
                                acc += feat[b, ch, sy, sx] * m[y, x]
                    out[b, ch, y, x] = acc
    return out


@pytest.mark.parametrize('k,groups,s', [(3, 2, 2), (5, 1, 2), (3, 1, 3)])
def test_carafe_matches_direct_loop(k, groups, s):
    torch.manual_seed(0)
    feat = torch.randn(2, 4, 3, 4, dtype=torch.float64)
    mask = torch.rand(2, groups * k * k, 3 * s, 4 * s, dtype=torch.float64)
    expected = carafe_loop(feat, mask, k, groups, s)
    torch.testing.assert_close(carafe(feat, mask, k, groups, s), expected)


def test_carafe_pack_normalises_kernels_and_is_registered():
    torch.manual_seed(0)
    pack = build_upsample_layer(
        dict(type='carafe', channels=8, scale_factor=2, up_group=2)
    )
    assert isinstance(pack, CARAFEPack)
    raw = torch.randn(1, 2 * 25 * 4, 3, 5)
    mask = pack.kernel_normalizer(raw)
    assert mask.shape == (1, 50, 6, 10)
    sums = mask.view(1, 2, 25, 6, 10).sum(2)
    torch.testing.assert_close(sums, torch.ones(1, 2, 6, 10))
    x = torch.randn(1, 8, 3, 5)
    assert pack(x).shape == (1, 8, 6, 10)
    # a constant map stays constant away from the zero-padded border
    const = pack(torch.ones(1, 8, 6, 6))
    torch.testing.assert_close(const[..., 4:-4, 4:-4], torch.ones(1, 8, 4, 4))
    assert set(dict(pack.named_parameters())) == {
        'channel_compressor.weight',
        'channel_compressor.bias',
        'content_encoder.weight',
        'content_encoder.bias',
    }


def test_merge_cells_resize_and_combine():
    torch.manual_seed(0)
    cell = SumCell(4, 4, with_out_conv=False)
    big, small = torch.randn(1, 4, 5, 5), torch.randn(1, 4, 2, 2)
    # 5x5 -> 2x2: zero-pad to 6x6 (extra row/column at the end), 3x3 pool
    padded = F.pad(big, (0, 1, 0, 1))
    pooled = F.max_pool2d(padded, 3)
    torch.testing.assert_close(
        cell(big, small, out_size=(2, 2)), pooled + small
    )
    up = small.repeat_interleave(2, 2).repeat_interleave(2, 3)
    torch.testing.assert_close(
        cell(small, up, out_size=(4, 4)), up + up
    )  # nearest upsampling; default out_size is the larger input's

    gp = GlobalPoolingCell(with_out_conv=False)
    a, b = torch.randn(1, 4, 3, 3), torch.randn(1, 4, 3, 3)
    expected = b + torch.sigmoid(b.mean((2, 3), keepdim=True)) * a
    torch.testing.assert_close(gp(a, b), expected)

    cat = ConcatCell(
        4, 6, out_conv_cfg=dict(kernel_size=1, padding=0, bias=False)
    )
    assert cat.out_conv.conv.in_channels == 8
    assert cat(a, b).shape == (1, 6, 3, 3)
    with pytest.raises(AssertionError):
        cat(a, torch.randn(1, 3, 3, 3))
