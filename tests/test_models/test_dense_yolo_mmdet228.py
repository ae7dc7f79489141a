"""SSD / YOLO family parts against numbers MMDetection 2.28.2 computed.

``tests/data/reference/dense_yolo_mmdet228/``: ``anchors.json`` (base
anchors, grid priors and YOLO responsible flags of each generator config)
and per head case a JSON (head config, ground truth, MMDetection's losses)
with an NPZ (the randomised state dict, the input features and
MMDetection's detections). Each head is built from the same config, loads
that state dict strictly and must give the same losses and detections.
"""

import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmcv import ConfigDict

from mmdet.core import build_prior_generator
from mmdet.models import build_head

REF = osp.join(
    osp.dirname(osp.dirname(__file__)),
    'data',
    'reference',
    'dense_yolo_mmdet228',
)
with open(osp.join(REF, 'anchors.json')) as f:
    ANCHORS = json.load(f)
HEAD_CASES = [
    'ssd_head',
    'ssdlite_head',
    'yolof_head',
    'yolov3_head',
    'yolov3_head_mean',
    'yolox_head',
    'yolox_head_l1',
    'pisa_ssd_head',
]


def close(actual, expected):
    torch.testing.assert_close(
        actual,
        torch.as_tensor(expected, dtype=actual.dtype),
        atol=1e-4,
        rtol=1e-4,
    )


@pytest.mark.parametrize('name', sorted(ANCHORS))
def test_anchor_generator_matches_mmdetection(name):
    case = ANCHORS[name]
    gen = build_prior_generator(dict(case['cfg']))
    assert len(gen.base_anchors) == len(case['base_anchors'])
    for mine, ref in zip(gen.base_anchors, case['base_anchors']):
        close(mine, ref)
    sizes = [tuple(s) for s in case['featmap_sizes']]
    for mine, ref in zip(
        gen.grid_priors(sizes, device='cpu'), case['grid_priors']
    ):
        close(mine, ref)
    if 'responsible_flags' in case:
        gt = torch.tensor(case['gt_bboxes'])
        sizes = [tuple(s) for s in case['flag_sizes']]
        flags = gen.responsible_flags(sizes, gt, device='cpu')
        for mine, ref in zip(flags, case['responsible_flags']):
            assert mine.tolist() == ref


def load_case(name):
    with open(osp.join(REF, f'{name}.json')) as f:
        meta = json.load(f)
    arrays = np.load(osp.join(REF, f'{name}.npz'))
    head = build_head(ConfigDict(meta['cfg']))
    state = {
        k[3:]: torch.from_numpy(arrays[k])
        for k in arrays.files
        if k.startswith('sd/')
    }
    head.load_state_dict(state, strict=True)
    if meta.get('use_l1'):
        head.use_l1 = True  # as YOLOXModeSwitchHook sets it
    num_feats = sum(k.startswith('feat/') for k in arrays.files)
    feats = [torch.from_numpy(arrays[f'feat/{i}']) for i in range(num_feats)]
    img_shape = tuple(meta['img_shape'])
    metas = [
        dict(
            img_shape=img_shape,
            pad_shape=img_shape,
            ori_shape=img_shape,
            batch_input_shape=img_shape[:2],
            scale_factor=np.array(meta['scale_factor'], dtype=np.float32),
        )
        for _ in range(feats[0].size(0))
    ]
    return head, feats, metas, meta, arrays


@pytest.mark.parametrize('name', HEAD_CASES)
def test_head_loss_matches_mmdetection(name):
    head, feats, metas, meta, _ = load_case(name)
    gts = meta['gts']
    gt_bboxes = [torch.tensor(b, dtype=torch.float32) for b in gts['bboxes']]
    gt_labels = [torch.tensor(b, dtype=torch.long) for b in gts['labels']]
    head.train()
    losses = head.loss(*head(feats), gt_bboxes, gt_labels, metas)
    assert sorted(losses) == sorted(meta['losses'])
    for key, expected in meta['losses'].items():
        value = losses[key]
        if isinstance(value, (list, tuple)):
            value = torch.stack([v.reshape(()) for v in value])
        close(value.detach().float().reshape(-1), np.ravel(expected))


@pytest.mark.parametrize('name', HEAD_CASES)
def test_head_get_bboxes_matches_mmdetection(name):
    head, feats, metas, _, arrays = load_case(name)
    head.eval()
    with torch.no_grad():
        results = head.get_bboxes(*head(feats), img_metas=metas, rescale=True)
    for i, (dets, labels) in enumerate(results):
        mine = canonical(dets, labels)
        ref = canonical(
            torch.from_numpy(arrays[f'det/{i}/bboxes']),
            torch.from_numpy(arrays[f'det/{i}/labels']),
        )
        assert mine.shape == ref.shape
        close(mine, ref)


def canonical(dets, labels):
    """(n, 6) ``x1, y1, x2, y2, score, label`` rows in a fixed order:
    detections of equal score (random weights give ties) may come out of
    NMS in either order."""
    if dets.numel() == 0:
        return dets.new_zeros((0, 6))
    rows = torch.cat([dets, labels[:, None].to(dets.dtype)], dim=1)
    keys = np.round(rows.numpy().astype(np.float64), 3)
    order = np.lexsort(keys.T[::-1])
    return rows[torch.from_numpy(order)]
