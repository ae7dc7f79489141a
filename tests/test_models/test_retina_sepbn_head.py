"""RetinaSepBNHead: tower convs shared across levels, norms per level."""

import pytest
import torch

from mmdet.models import build_head
from mmdet.utils.arg_errors import InvalidArgumentError


def make_head(**kw):
    cfg = dict(
        type='RetinaSepBNHead',
        num_classes=3,
        num_ins=3,
        in_channels=8,
        feat_channels=8,
        stacked_convs=2,
        norm_cfg=dict(type='BN', requires_grad=True),
        anchor_generator=dict(
            type='AnchorGenerator',
            octave_base_scale=4,
            scales_per_octave=3,
            ratios=[0.5, 1.0, 2.0],
            strides=[8, 16, 32],
        ),
    )
    cfg.update(kw)
    return build_head(cfg)


def test_convs_shared_norms_separate():
    head = make_head()
    for towers in (head.cls_convs, head.reg_convs):
        for j in range(1, 3):
            for i in range(2):
                assert towers[j][i].conv is towers[0][i].conv
                assert towers[j][i].bn is not towers[0][i].bn
    # state dict lists the shared conv under every level, as MMDetection
    keys = head.state_dict().keys()
    assert 'cls_convs.2.1.conv.weight' in keys
    assert 'reg_convs.1.0.bn.running_mean' in keys


def test_init_weights_and_forward_shapes():
    head = make_head()
    head.init_weights()
    bias = head.retina_cls.bias
    assert torch.allclose(bias.sigmoid(), torch.full_like(bias, 0.01))
    feats = [torch.rand(2, 8, s, s) for s in (8, 4, 2)]
    cls_scores, bbox_preds = head(feats)
    for cls, box, s in zip(cls_scores, bbox_preds, (8, 4, 2)):
        assert cls.shape == (2, 9 * 3, s, s)
        assert box.shape == (2, 9 * 4, s, s)


def test_levels_differ_only_through_their_norms():
    head = make_head().eval()
    x = torch.rand(1, 8, 4, 4)
    with torch.no_grad():
        for towers in (head.cls_convs, head.reg_convs):
            for tower in towers:
                for layer in tower:
                    layer.bn.running_mean.uniform_()
    cls_scores, _ = head([x, x, x])
    assert not torch.allclose(cls_scores[0], cls_scores[1])
    with torch.no_grad():
        for towers in (head.cls_convs, head.reg_convs):
            for tower in towers[1:]:
                for layer, first in zip(tower, towers[0]):
                    layer.bn.load_state_dict(first.bn.state_dict())
    cls_scores, _ = head([x, x, x])
    assert torch.allclose(cls_scores[0], cls_scores[2])


def test_init_cfg_rejected():
    with pytest.raises(InvalidArgumentError):
        make_head(init_cfg=dict(type='Normal', layer='Conv2d', std=0.01))
