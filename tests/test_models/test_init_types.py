"""The init types MMDetection configs name (mmcv's Caffe2Xavier,
TruncNormal, Normal) act on this tree's modules through ``init_cfg``."""

import math

import pytest
import torch

from mmdet.models import build_neck


def fpn(init_cfg):
    torch.manual_seed(0)
    neck = build_neck(
        dict(
            type='FPN',
            in_channels=[64, 128],
            out_channels=64,
            num_outs=2,
            init_cfg=init_cfg,
        )
    )
    neck.init_weights()
    return neck


def test_caffe2xavier_is_uniform_in_fan_in_bound():
    neck = fpn(dict(type='Caffe2Xavier', layer='Conv2d'))
    weight = neck.fpn_convs[0].conv.weight
    bound = math.sqrt(3.0 / (64 * 9))  # kaiming uniform, a=1, fan_in
    assert weight.abs().max() <= bound
    assert weight.abs().max() > 0.95 * bound
    assert weight.std().item() == pytest.approx(bound / math.sqrt(3), 0.05)
    assert torch.all(neck.fpn_convs[0].conv.bias == 0)


def test_trunc_normal_and_normal():
    neck = fpn(dict(type='TruncNormal', layer='Conv2d', std=0.03, bias=0.1))
    weight = neck.lateral_convs[1].conv.weight
    assert weight.std().item() == pytest.approx(0.03, rel=0.1)
    assert weight.abs().max() <= 2.0
    assert torch.all(neck.lateral_convs[1].conv.bias == 0.1)
    neck = fpn(dict(type='Normal', layer='Conv2d', mean=1.0, std=0.01))
    weight = neck.fpn_convs[1].conv.weight
    assert weight.mean().item() == pytest.approx(1.0, abs=0.002)
    assert weight.std().item() == pytest.approx(0.01, rel=0.1)
