"""MaskFormer, Mask2Former and Panoptic FPN against MMDetection 2.28.2:
test-time outputs of seeded tiny models (the same state dict, image and
metas), the two fusion heads and MaskHungarianAssigner on seeded inputs.

The numbers in tests/data/reference/mmdet228_panoptic.json were computed
by MMDetection 2.28.2 (with mmcv 1.7.2) from the configs stored there and
the same generator calls as below.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmcv import Config, ConfigDict

from mmdet.core import BitmapMasks, build_assigner
from mmdet.models import build_detector, build_head

REF = json.loads(
    (
        Path(__file__).parents[1] / 'data/reference/mmdet228_panoptic.json'
    ).read_text()
)


def seed_state_dict(model, seed=0):
    """Every float entry, in sorted key order, from one generator: weights
    N(0, 1/fan_in), 1-d weights 1 + N(0, 0.01), other 1-d entries
    N(0, 0.01), variances U(0.5, 1.5)."""
    gen = torch.Generator().manual_seed(seed)
    state = model.state_dict()
    out = {}
    for key in sorted(state):
        v = state[key]
        if not v.is_floating_point():
            out[key] = v
            continue
        noise = torch.randn(v.shape, generator=gen, dtype=torch.float32)
        if key.endswith('running_var'):
            x = torch.rand(v.shape, generator=gen) + 0.5
        elif v.dim() > 1:
            x = noise / (v[0].numel() ** 0.5)
        elif key.endswith('weight'):
            x = 1 + 0.1 * noise
        else:
            x = 0.1 * noise
        out[key] = x.to(v.dtype)
    model.load_state_dict(out, strict=True)


def seeded_model(name):
    model = build_detector(Config(dict(model=REF[name]['config'])).model)
    seed_state_dict(model)
    return model.eval()


def image_and_metas():
    gen = torch.Generator().manual_seed(1)
    img = torch.randn(1, 3, 64, 64, generator=gen)
    scale = np.array([56 / 84, 60 / 90] * 2, dtype=np.float32)
    meta = dict(
        img_shape=(60, 56, 3),
        ori_shape=(90, 84, 3),
        pad_shape=(64, 64, 3),
        batch_input_shape=(64, 64),
        scale_factor=scale,
        flip=False,
        flip_direction=None,
    )
    return img, [meta]


def check_pan(pan, ref):
    assert list(pan.shape) == ref['shape']
    ids, counts = np.unique(pan, return_counts=True)
    assert ids.tolist() == ref['ids']
    assert counts.tolist() == ref['counts']


def ins_rows(bbox_results, mask_results):
    rows = [
        [c] + b.tolist() + [int(m.sum())]
        for c, (boxes, masks) in enumerate(zip(bbox_results, mask_results))
        for b, m in zip(boxes, masks)
    ]
    return sorted(rows, key=lambda r: -r[5])


def check_rows(rows, ref):
    assert len(rows) == len(ref)
    for row, ref_row in zip(rows, ref):
        assert row[0] == ref_row[0] and row[-1] == ref_row[-1]
        np.testing.assert_allclose(row[1:-1], ref_row[1:-1], atol=1e-4)


@pytest.mark.parametrize('name', ['mask2former', 'maskformer'])
def test_query_family_simple_test(name):
    ref = REF[name]
    model = seeded_model(name)
    img, metas = image_and_metas()
    with torch.no_grad():
        cls, masks = model.panoptic_head.simple_test(
            model.extract_feat(img), metas
        )
        result = model.simple_test(img, metas, rescale=True)[0]
    np.testing.assert_allclose(cls[0], ref['mask_cls'], atol=1e-4)
    np.testing.assert_allclose(
        masks[0].mean((1, 2)), ref['mask_pred_mean'], atol=1e-4
    )
    np.testing.assert_allclose(
        masks[0][:, ::8, ::8], ref['mask_pred_sub'], atol=1e-4
    )
    check_pan(result['pan_results'], ref['pan'])
    check_rows(ins_rows(*result['ins_results']), ref['ins'])


def train_batch():
    """One image: two thing boxes (labels 0, 2) with box masks, stuff
    labels 3 / 4 in 8x8 blocks elsewhere, the bottom rows unlabelled."""
    img, metas = image_and_metas()
    gen = torch.Generator().manual_seed(6)
    boxes = torch.tensor([[4.0, 6.0, 30.0, 40.0], [20.0, 10.0, 50.0, 58.0]])
    masks = np.zeros((2, 64, 64), dtype=np.uint8)
    for i, (x1, y1, x2, y2) in enumerate(boxes.long().tolist()):
        masks[i, y1:y2, x1:x2] = 1
    seg = torch.randint(3, 5, (1, 1, 8, 8), generator=gen)
    seg = seg.repeat_interleave(8, 2).repeat_interleave(8, 3)
    seg[:, :, 60:] = 255
    seg[0, 0][torch.from_numpy(masks[0]).bool()] = 0
    seg[0, 0][torch.from_numpy(masks[1]).bool()] = 2
    return dict(
        img=img,
        img_metas=metas,
        gt_bboxes=[boxes],
        gt_labels=[torch.tensor([0, 2])],
        gt_masks=[BitmapMasks(masks, 64, 64)],
        gt_semantic_seg=seg,
    )


@pytest.mark.parametrize('name', ['mask2former', 'maskformer'])
def test_query_family_losses(name):
    """Every decoder layer's class, mask and Dice losses (Mask2Former's on
    points drawn after the same seed)."""
    ref = REF[name]
    cfg = dict(ref['config'], train_cfg=ref['train_cfg'])
    model = build_detector(Config(dict(model=cfg)).model)
    seed_state_dict(model)
    model.train()
    torch.manual_seed(5)
    losses = model.forward_train(**train_batch())
    assert sorted(losses) == sorted(ref['losses'])
    for key, value in ref['losses'].items():
        np.testing.assert_allclose(float(losses[key]), value, atol=1e-4)
    sum(losses.values()).backward()
    grads = [p.grad for p in model.panoptic_head.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_panoptic_fpn_simple_test():
    ref = REF['panoptic_fpn']
    model = seeded_model('panoptic_fpn')
    img, metas = image_and_metas()
    with torch.no_grad():
        result = model.simple_test(img, metas, rescale=True)[0]
        seg = model.semantic_head.simple_test(
            model.extract_feat(img), metas, rescale=True
        )
    np.testing.assert_allclose(seg[0].mean((1, 2)), ref['seg_mean'], atol=1e-4)
    np.testing.assert_allclose(
        seg[0][:, ::10, ::10], ref['seg_sub'], atol=1e-4
    )
    check_pan(result['pan_results'], ref['pan'])


def test_panoptic_fpn_refuses_onnx_export():
    """The exporter's graph is Mask R-CNN's: a panoptic segmentor is
    refused by name rather than exported as its instance part."""
    from mmdet.core.export.detector import ExportableTwoStageDetector

    with pytest.raises(NotImplementedError, match='panoptic'):
        ExportableTwoStageDetector(seeded_model('panoptic_fpn'))


def test_heuristic_fusion():
    ref = REF['heuristic_fusion']
    gen = torch.Generator().manual_seed(2)
    boxes = torch.tensor(
        [
            [2.0, 2.0, 20.0, 20.0],
            [10.0, 10.0, 30.0, 30.0],
            [5.0, 18.0, 25.0, 31.0],
            [0.0, 0.0, 8.0, 8.0],
            [12.0, 3.0, 28.0, 14.0],
        ]
    )
    scores = torch.rand(5, generator=gen)
    labels = torch.tensor([0, 2, 1, 1, 0])
    probs = torch.rand(5, 32, 32, generator=gen) * 0.6
    for i, (x1, y1, x2, y2) in enumerate(boxes.long().tolist()):
        probs[i, y1:y2, x1:x2] += 0.45
    seg = torch.randn(3, 32, 32, generator=gen)
    np.testing.assert_allclose(
        [probs.sum(), seg.sum()], ref['input_sums'], rtol=1e-6
    )
    head = build_head(
        dict(
            type='HeuristicFusionHead',
            num_things_classes=3,
            num_stuff_classes=2,
            test_cfg=ConfigDict(ref['test_cfg']),
        )
    )
    dets = torch.cat([boxes, scores[:, None]], 1)
    pan = head.simple_test(dets, labels, probs, seg)
    assert pan.tolist() == ref['pan']


def test_maskformer_fusion():
    ref = REF['maskformer_fusion']
    gen = torch.Generator().manual_seed(3)
    mask_cls = torch.randn(8, 6, generator=gen) * 3
    mask_pred = torch.randn(8, 1, 6, 6, generator=gen) * 4
    mask_pred = F.interpolate(mask_pred, (24, 24), mode='bilinear')[:, 0]
    np.testing.assert_allclose(
        [mask_cls.sum(), mask_pred.sum()], ref['input_sums'], rtol=1e-5
    )
    head = build_head(
        dict(
            type='MaskFormerFusionHead',
            num_things_classes=3,
            num_stuff_classes=2,
            test_cfg=ref['test_cfg'],
        )
    )
    pan = head.panoptic_postprocess(mask_cls, mask_pred)
    assert pan.tolist() == ref['pan']
    labels, bboxes, binary = head.instance_postprocess(mask_cls, mask_pred)
    rows = sorted(
        (
            [int(lb)] + b.tolist() + [int(m.sum())]
            for lb, b, m in zip(labels, bboxes, binary)
        ),
        key=lambda r: -r[5],
    )
    check_rows(rows, ref['ins'])


@pytest.mark.parametrize('family', ['mask2former', 'maskformer'])
def test_mask_hungarian_assigner(family):
    ref = REF['mask_hungarian_assigner']
    gen = torch.Generator().manual_seed(4)
    cls_pred = torch.randn(7, 5, generator=gen)
    mask_pred = torch.randn(7, 60, generator=gen) * 2
    gt_labels = torch.tensor([1, 3, 0, 1])
    gt_masks = (torch.rand(4, 60, generator=gen) > 0.5).long()
    np.testing.assert_allclose(
        [cls_pred.sum(), mask_pred.sum(), gt_masks.sum()],
        ref['input_sums'],
        rtol=1e-5,
    )
    assigner = build_assigner(
        dict(type='MaskHungarianAssigner', **ref[family]['costs'])
    )
    result = assigner.assign(cls_pred, mask_pred, gt_labels, gt_masks, None)
    cost = assigner._cost(cls_pred, mask_pred, gt_labels, gt_masks)
    np.testing.assert_allclose(cost, ref[family]['cost'], atol=1e-4)
    assert result.gt_inds.tolist() == ref[family]['gt_inds']
    assert result.labels.tolist() == ref[family]['labels']


def test_panoptic_results_through_test_loop_and_drawing():
    """The test loop RLE-encodes the 'ins_results' masks of result dicts;
    a 'pan_results' map draws one mask per non-void segment."""
    from mmdet.apis.test import _encode_masks
    from mmdet.core.visualization.image import (
        imshow_det_result,
        pan_segments,
    )

    pan = np.full((8, 8), 5, np.int32)  # 5 = void (num_classes)
    pan[:4, :4] = 1 + 1000
    pan[:4, 4:] = 1 + 2000
    pan[4:, :4] = 3
    mask = np.zeros((8, 8), bool)
    mask[:4, :4] = True
    ins = ([np.array([[0, 0, 4, 4, 0.9]], np.float32)], [[mask]])
    out = _encode_masks([dict(pan_results=pan, ins_results=ins)])[0]
    assert out['pan_results'] is pan
    rle = out['ins_results'][1][0][0]
    assert isinstance(rle, dict) and 'counts' in rle
    labels, segms = pan_segments(pan, 5)
    assert sorted(labels.tolist()) == [1, 1, 3]
    assert sorted(s.sum() for s in segms) == [16, 16, 16]
    drawn = imshow_det_result(
        np.zeros((8, 8, 3), np.uint8),
        dict(pan_results=pan),
        class_names=('a', 'b', 'c', 'd', 'e'),
    )
    assert drawn.shape == (8, 8, 3) and drawn[6, 1].any()
