"""Gaussian target helpers and CenterNetHead against MMDetection 2.28.2
(tests/data/reference/dense_points/centernet_mmdet228.json)."""

import json
import math
from pathlib import Path

import pytest
import torch
from dense_points_fill import assert_same_dets, feat, fill_

from mmdet.models import build_detector, build_head
from mmdet.models.utils import gaussian_target as gt

REF = json.loads(
    (
        Path(__file__).parents[1]
        / 'data/reference/dense_points/centernet_mmdet228.json'
    ).read_text()
)
IMG_METAS = [
    dict(
        img_shape=(64, 64, 3),
        pad_shape=(64, 64, 3),
        batch_input_shape=(64, 64),
        scale_factor=[2.0] * 4,
        border=[3.0, 67.0, 5.0, 69.0],
    )
] * 2
GT_BBOXES = [
    torch.tensor([[4.0, 6.0, 30.0, 40.0], [20.0, 10.0, 60.0, 50.0]]),
    torch.tensor([[10.3, 12.7, 26.1, 22.9]]),
]
GT_LABELS = [torch.tensor([0, 2]), torch.tensor([1])]


def approx(values):
    return pytest.approx(values, abs=1e-4)


def test_gaussian_radius_matches_mmdet_and_keeps_iou():
    for h, w, overlap, want in REF['gaussian_radius']:
        r = gt.gaussian_radius([h, w], overlap)
        assert r == approx(want)
        # both corners moved inward by r: IoU (w-2r)(h-2r)/(wh) >= overlap
        assert (w - 2 * r) * (h - 2 * r) / (w * h) >= overlap - 1e-6


def test_gaussian_kernels_match_mmdet():
    kernel = gt.gaussian2D(2, sigma=5 / 6)
    assert kernel.flatten().tolist() == approx(REF['gaussian2D'])
    assert kernel[2, 2] == 1 and kernel[0, 1] == approx(
        math.exp(-5 / (2 * (5 / 6) ** 2))
    )
    heatmap = torch.zeros(8, 10)
    gt.gen_gaussian_target(heatmap, [1, 6], 3)
    gt.gen_gaussian_target(heatmap, [8, 2], 2, k=0.7)
    assert heatmap.flatten().tolist() == approx(REF['gen_gaussian_target'])


def test_peak_decoding_matches_mmdet():
    heat = feat((2, 3, 5, 6), 4)
    local = gt.get_local_maximum(heat, kernel=3)
    assert local.flatten().tolist() == approx(REF['local_max'])
    scores, inds, clses, ys, xs = gt.get_topk_from_heatmap(local, k=5)
    ref = REF['topk']
    assert scores.flatten().tolist() == approx(ref['scores'])
    assert inds.flatten().tolist() == ref['inds']
    assert clses.flatten().tolist() == ref['clses']
    assert ys.flatten().tolist() == ref['ys']
    assert xs.flatten().tolist() == approx(ref['xs'])
    gathered = gt.transpose_and_gather_feat(feat((2, 4, 5, 6), 7), inds)
    assert gathered.flatten().tolist() == approx(REF['gather'])


def make_head():
    head = build_head(
        dict(
            type='CenterNetHead',
            num_classes=3,
            in_channel=8,
            feat_channel=8,
            test_cfg=dict(
                topk=10,
                local_maximum_kernel=3,
                max_per_img=10,
                nms=dict(type='nms', iou_threshold=0.5),
            ),
        )
    )
    fill_(head)
    return head


def test_head_loss_matches_mmdet():
    head = make_head()
    outs = head([feat((2, 8, 16, 16), 0)])
    losses = head.loss(*outs, GT_BBOXES, GT_LABELS, IMG_METAS)
    assert sorted(losses) == sorted(REF['head_losses'])
    for name, want in REF['head_losses'].items():
        assert losses[name].item() == approx(want[0])


def test_head_detections_match_mmdet():
    head = make_head()
    with torch.no_grad():
        outs = head([feat((2, 8, 16, 16), 0)])
        plain = head.get_bboxes(*outs, img_metas=IMG_METAS, rescale=True)
        nms = head.get_bboxes(
            *outs, img_metas=IMG_METAS, rescale=False, with_nms=True
        )
    for ours, ref in zip(plain + nms, REF['dets'] + REF['dets_nms']):
        assert_same_dets(ours, ref['bboxes'], ref['labels'])


def test_detector_trains_and_flip_tests():
    model = build_detector(
        dict(
            type='CenterNet',
            backbone=dict(
                type='ResNet',
                depth=18,
                num_stages=2,
                strides=(1, 2),
                dilations=(1, 1),
                out_indices=(1,),
            ),
            neck=dict(
                type='CTResNetNeck',
                in_channel=128,
                num_deconv_filters=(8,),
                num_deconv_kernels=(4,),
                use_dcn=False,
            ),
            bbox_head=dict(
                type='CenterNetHead',
                num_classes=3,
                in_channel=8,
                feat_channel=8,
            ),
            test_cfg=dict(topk=10, local_maximum_kernel=3, max_per_img=10),
        )
    )
    img = torch.rand(2, 3, 64, 64)
    metas = [dict(m, flip=False, flip_direction=None) for m in IMG_METAS]
    losses = model.forward_train(img, metas, GT_BBOXES, GT_LABELS)
    sum(losses.values()).backward()
    model.eval()
    flipped = dict(metas[0], flip=True, flip_direction='horizontal')
    with torch.no_grad():
        results = model.aug_test(
            [img[:1], img[:1].flip(-1)], [[metas[0]], [flipped]]
        )
    assert len(results) == 1 and len(results[0]) == 3
    assert sum(len(r) for r in results[0]) == 10
