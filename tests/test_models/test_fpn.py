"""FPN: output shapes and strides for the released channel lists, names."""

import json
import os.path as osp

import pytest
import torch

from mmdet.models import build_neck

REF = osp.join(osp.dirname(osp.dirname(__file__)), 'data', 'reference')


def _inputs(channels, height, width, strides=(4, 8, 16, 32)):
    """Backbone-like maps: ceil-divided sizes, as strided convs give."""
    return [
        torch.rand(1, c, -(-height // s), -(-width // s))
        for c, s in zip(channels, strides)
    ]


@pytest.mark.parametrize(
    'channels', [[256, 512, 1024, 2048], [24, 32, 96, 1280]]
)
@pytest.mark.parametrize('size', [(64, 96), (70, 45)])  # 70x45: odd sizes
def test_fpn_shapes_and_strides(channels, size):
    fpn = build_neck(
        dict(type='FPN', in_channels=channels, out_channels=32, num_outs=5)
    ).eval()
    ins = _inputs(channels, *size)
    outs = fpn(ins)
    assert len(outs) == 5
    for i, out in enumerate(outs[:4]):
        assert out.shape == (1, 32) + ins[i].shape[2:]
    # the extra level is a stride-2 max pool of the coarsest output
    assert outs[4].shape[2:] == tuple(-(-s // 2) for s in outs[3].shape[2:])
    assert torch.equal(outs[4], outs[3][:, :, ::2, ::2])


def test_fpn_top_down_reaches_finest_level():
    fpn = build_neck(
        dict(type='FPN', in_channels=[8, 8], out_channels=4, num_outs=2)
    ).eval()
    fine, coarse = torch.zeros(1, 8, 8, 8), torch.rand(1, 8, 4, 4)
    out_a = fpn([fine, coarse])[0]
    out_b = fpn([fine, coarse * 2])[0]
    assert not torch.allclose(out_a, out_b)  # coarse level flows down


@pytest.mark.parametrize('mode', ['on_input', 'on_lateral', 'on_output'])
def test_fpn_extra_convs(mode):
    torch.manual_seed(0)
    fpn = build_neck(
        dict(
            type='FPN',
            in_channels=[8, 16],
            out_channels=4,
            num_outs=4,
            add_extra_convs=mode,
        )
    ).eval()
    c4, c5 = torch.rand(1, 8, 16, 16), torch.rand(1, 16, 8, 8)
    with torch.no_grad():
        outs = fpn([c4, c5])
        # what each mode feeds the first extra conv: the last backbone
        # map, its lateral conv, or the last FPN output built from it
        lateral = fpn.lateral_convs[1](c5)
        sources = dict(
            on_input=c5,
            on_lateral=lateral,
            on_output=fpn.fpn_convs[1](lateral),
        )
        first_extra = fpn.fpn_convs[2](sources[mode])
        second_extra = fpn.fpn_convs[3](first_extra)
    assert [o.shape[2] for o in outs] == [16, 8, 4, 2]
    assert len(fpn.fpn_convs) == 4
    assert fpn.fpn_convs[2].conv.in_channels == sources[mode].shape[1]
    torch.testing.assert_close(outs[2], first_extra)
    torch.testing.assert_close(outs[3], second_extra)
    # the three sources differ, so the check above tells the modes apart
    if mode != 'on_input':
        other = 'on_output' if mode == 'on_lateral' else 'on_lateral'
        with torch.no_grad():
            assert not torch.allclose(
                outs[2], fpn.fpn_convs[2](sources[other])
            )


def test_fpn_parameter_names_match_release():
    with open(
        osp.join(
            REF, 'detectors', 'faster_rcnn_mobilenetv2_100_fpn_1x_coco.json'
        )
    ) as f:
        ref = {
            k[len('neck.') :]: v
            for k, v in json.load(f).items()
            if k.startswith('neck.')
        }
    fpn = build_neck(
        dict(
            type='FPN',
            in_channels=[24, 32, 96, 1280],
            out_channels=256,
            num_outs=5,
        )
    )
    assert {k: list(v.shape) for k, v in fpn.state_dict().items()} == ref


def test_fpn_bad_arguments():
    with pytest.raises(ValueError, match='add_extra_convs'):
        build_neck(
            dict(
                type='FPN',
                in_channels=[8],
                out_channels=4,
                num_outs=2,
                add_extra_convs='on_top',
            )
        )
    fpn = build_neck(
        dict(type='FPN', in_channels=[8, 8], out_channels=4, num_outs=2)
    )
    with pytest.raises(ValueError, match='expects 2 inputs'):
        fpn([torch.rand(1, 8, 4, 4)])
