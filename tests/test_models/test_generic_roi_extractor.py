"""GenericRoIExtractor (GRoIE): every level pooled with torchvision's
roi_align, through the pre module, summed or concatenated, through the post
module."""

import pytest
import torch
from torchvision.ops import roi_align

from mmdet.models.builder import build_roi_extractor
from mmdet.utils.arg_errors import InvalidArgumentError

STRIDES = [4, 8]
ROI_LAYER = dict(type='RoIAlign', output_size=3, sampling_ratio=2)


def inputs():
    gen = torch.Generator().manual_seed(0)
    feats = (
        torch.randn(2, 4, 16, 16, generator=gen),
        torch.randn(2, 4, 8, 8, generator=gen),
    )
    rois = torch.tensor(
        [[0, 2.0, 3.0, 30.0, 20.0], [1, 10.0, 8.0, 60.0, 50.0]]
    )
    return feats, rois


def pooled(feats, rois):
    """Each level's RoI features, computed directly."""
    return [
        roi_align(f, rois, 3, 1 / s, 2, aligned=True)
        for f, s in zip(feats, STRIDES)
    ]


def build(**kwargs):
    cfg = dict(
        type='GenericRoIExtractor',
        roi_layer=ROI_LAYER,
        out_channels=4,
        featmap_strides=STRIDES,
    )
    return build_roi_extractor(dict(cfg, **kwargs))


def test_sum_and_concat():
    feats, rois = inputs()
    levels = pooled(feats, rois)
    torch.testing.assert_close(build()(feats, rois), levels[0] + levels[1])
    concat = build(aggregation='concat', out_channels=8)
    torch.testing.assert_close(concat(feats, rois), torch.cat(levels, 1))
    with pytest.raises(InvalidArgumentError, match='8 channels'):
        build(aggregation='concat')(feats, rois)
    with pytest.raises(InvalidArgumentError, match='aggregation'):
        build(aggregation='max')


def test_pre_and_post_modules():
    feats, rois = inputs()
    extractor = build(
        pre_cfg=dict(
            type='ConvModule',
            in_channels=4,
            out_channels=4,
            kernel_size=3,
            padding=1,
            inplace=False,
        ),
        post_cfg=dict(
            type='GeneralizedAttention',
            in_channels=4,
            spatial_range=-1,
            num_heads=1,
            attention_type='0100',
            kv_stride=1,
        ),
    )
    # the attributes that decide the checkpoint keys
    keys = extractor.state_dict().keys()
    assert 'pre_module.conv.weight' in keys
    assert 'post_module.query_conv.weight' in keys
    with torch.no_grad():
        levels = pooled(feats, rois)
        pre = [extractor.pre_module(level) for level in levels]
        expected = extractor.post_module(pre[0] + pre[1])
        torch.testing.assert_close(extractor(feats, rois), expected)
        # the enlarged RoIs are pooled when a scale factor is given
        scaled = extractor(feats, rois, roi_scale_factor=1.5)
        rois_15 = extractor.roi_rescale(rois, 1.5)
        pre = [extractor.pre_module(x) for x in pooled(feats, rois_15)]
        torch.testing.assert_close(
            scaled, extractor.post_module(pre[0] + pre[1])
        )


def test_no_rois_and_one_level():
    feats, rois = inputs()
    assert build()(feats, rois[:0]).shape == (0, 4, 3, 3)
    one = build_roi_extractor(
        dict(
            type='GenericRoIExtractor',
            roi_layer=ROI_LAYER,
            out_channels=4,
            featmap_strides=[4],
        )
    )
    torch.testing.assert_close(one(feats[:1], rois), pooled(feats, rois)[0])
