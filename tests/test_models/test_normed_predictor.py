"""NormedLinear / NormedConv2d against the cosine formula written out in
float64, their registries, and the heads that build them from configs
(Seesaw Loss's ``cls_predictor_cfg`` / ``predictor_cfg``)."""

import pytest
import torch
from mmcv.cnn import build_conv_layer

from mmdet.models import build_head
from mmdet.models.utils import NormedConv2d, NormedLinear, build_linear_layer


def cosine(x, w, temperature, eps=1e-6):
    """temperature * x.w / ((|x| + eps) (|w| + eps)), rows of x and w."""
    x, w = x.double(), w.double()
    x_norm = (x * x).sum(1, keepdim=True).sqrt() + eps
    w_norm = (w * w).sum(1, keepdim=True).sqrt() + eps
    return temperature * (x / x_norm) @ (w / w_norm).T


def test_normed_linear_is_a_scaled_cosine():
    torch.manual_seed(0)
    layer = build_linear_layer(
        dict(type='NormedLinear', tempearture=20), 8, 5, bias=False
    )
    assert isinstance(layer, NormedLinear) and layer.tempearture == 20
    assert layer.weight.std().item() == pytest.approx(0.01, rel=0.3)
    x = torch.randn(4, 8)
    torch.testing.assert_close(
        layer(x).double(), cosine(x, layer.weight, 20), rtol=1e-5, atol=1e-5
    )
    with_bias = NormedLinear(8, 5, tempearture=10)
    assert torch.all(with_bias.bias == 0)
    with pytest.raises(KeyError, match='NoLinear'):
        build_linear_layer(dict(type='NoLinear'), 8, 5)


@pytest.mark.parametrize('over_kernel', [False, True])
def test_normed_conv_is_a_cosine_per_position(over_kernel):
    torch.manual_seed(0)
    conv = build_conv_layer(
        dict(type='NormedConv2d', tempearture=5, norm_over_kernel=over_kernel),
        6,
        3,
        1 if not over_kernel else 3,
        padding=0 if not over_kernel else 1,
    )
    assert isinstance(conv, NormedConv2d)
    x = torch.randn(2, 6, 4, 4)
    out = conv(x).double()
    if not over_kernel:
        # 1x1: every position is a cosine of its channel vector
        rows = x.permute(0, 2, 3, 1).reshape(-1, 6)
        expected = cosine(rows, conv.weight.flatten(1), 5)
        expected = expected + conv.bias.double()
        torch.testing.assert_close(
            out.permute(0, 2, 3, 1).reshape(-1, 3),
            expected,
            rtol=1e-5,
            atol=1e-5,
        )
    else:
        # the whole kernel normalized; the input per position
        x64 = x.double()
        x_unit = x64 / (x64.norm(dim=1, keepdim=True) + 1e-6)
        w = conv.weight.double()
        w_unit = w / (w.flatten(1).norm(dim=1)[:, None, None, None] + 1e-6)
        expected = torch.nn.functional.conv2d(
            5 * x_unit, w_unit, conv.bias.double(), padding=1
        )
        torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


def test_heads_build_normed_predictors_from_configs():
    bbox_head = build_head(
        dict(
            type='Shared2FCBBoxHead',
            in_channels=16,
            fc_out_channels=32,
            roi_feat_size=7,
            num_classes=10,
            cls_predictor_cfg=dict(type='NormedLinear', tempearture=20),
        )
    )
    assert isinstance(bbox_head.fc_cls, NormedLinear)
    assert bbox_head.fc_cls.weight.shape == (11, 32)
    cls_score, _ = bbox_head(torch.randn(3, 16, 7, 7))
    assert cls_score.abs().max() <= 20 + 1e-4  # |cosine| <= 1, times 20
    mask_head = build_head(
        dict(
            type='FCNMaskHead',
            num_convs=1,
            in_channels=16,
            conv_out_channels=16,
            num_classes=10,
            predictor_cfg=dict(type='NormedConv2d', tempearture=20),
        )
    )
    assert isinstance(mask_head.conv_logits, NormedConv2d)
    assert mask_head.conv_logits.weight.shape == (10, 16, 1, 1)
