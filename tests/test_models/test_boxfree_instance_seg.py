"""Box-free instance segmentation (issue 21): DiceLoss, mask_matrix_nms,
fast_nms and the SOLO / SOLOv2 heads against numbers MMDetection 2.28.2
computed (tests/data/reference/mmdet228_boxfree.json, 4 decimals), plus a
training step and the simple_test format of each detector."""

import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmcv import Config, ConfigDict

from mmdet.core import fast_nms, mask_matrix_nms
from mmdet.core.mask.structures import BitmapMasks
from mmdet.models import build_detector, build_head, build_loss

REF = json.load(
    open(
        osp.join(
            osp.dirname(__file__),
            '..',
            'data',
            'reference',
            'mmdet228_boxfree.json',
        )
    )
)
ATOL = 1e-4


def seq(shape, k=0.0, scale=1.0):
    """Deterministic inputs / weights, same formula as the reference."""
    n = int(np.prod(shape)) if len(shape) else 1
    v = torch.sin(torch.arange(n, dtype=torch.float64) * 0.731 + k) * scale
    return v.reshape(shape).float()


def close(a, b):
    np.testing.assert_allclose(
        np.asarray(a, dtype=np.float64), np.asarray(b), atol=ATOL
    )


@pytest.mark.parametrize('case', range(len(REF['dice']['cases'])))
def test_dice_loss_matches_mmdet(case):
    ref = REF['dice']
    c = ref['cases'][case]
    pred = torch.tensor(ref['pred'])
    if c['cfg'].get('activate') is False:
        pred = pred.sigmoid()
    call = {
        k: torch.tensor(v) if isinstance(v, list) else v
        for k, v in c['call'].items()
    }
    loss = build_loss(dict(type='DiceLoss', **c['cfg']))
    close(loss(pred, torch.tensor(ref['target']), **call).tolist(), c['value'])


def test_dice_loss_float64_definition():
    pred = torch.rand(4, 3, 3, dtype=torch.float64)
    target = (torch.rand(4, 3, 3) > 0.5).double()
    p, t = pred.flatten(1), target.flatten(1)
    want = 1 - 2 * (p * t).sum(1) / ((p * p).sum(1) + (t * t).sum(1) + 2e-3)
    loss = build_loss(dict(type='DiceLoss', activate=False))
    got = loss(pred, target, reduction_override='none')
    torch.testing.assert_close(got, want)


def _rect_masks(rects, size):
    masks = torch.zeros(len(rects), *size, dtype=torch.bool)
    for i, (y0, x0, y1, x1) in enumerate(rects):
        masks[i, y0:y1, x0:x1] = True
    return masks


@pytest.mark.parametrize('case', range(len(REF['matrix_nms']['cases'])))
def test_mask_matrix_nms_matches_mmdet(case):
    ref = REF['matrix_nms']
    c = ref['cases'][case]
    masks = _rect_masks(ref['rects'], ref['size'])
    scores, labels, kept, inds = mask_matrix_nms(
        masks,
        torch.tensor(ref['labels']),
        torch.tensor(ref['scores']),
        **c['kw'],
    )
    close(scores.tolist(), c['scores'])
    assert labels.tolist() == c['labels']
    assert inds.tolist() == c['keep_inds']
    assert torch.equal(kept, masks[inds])


def test_mask_matrix_nms_empty():
    s, lab, m, k = mask_matrix_nms(
        torch.zeros(0, 4, 5), torch.zeros(0, dtype=torch.long), torch.zeros(0)
    )
    assert m.shape == (0, 4, 5) and len(s) == len(lab) == len(k) == 0


@pytest.mark.parametrize('case', range(len(REF['fast_nms']['cases'])))
def test_fast_nms_matches_mmdet(case):
    ref = REF['fast_nms']
    c = ref['cases'][case]
    dets, labels, coeffs = fast_nms(
        torch.tensor(ref['boxes']),
        torch.tensor(ref['scores']),
        torch.tensor(ref['coeffs']),
        **c['kw'],
    )
    close(dets.tolist(), c['dets'])
    assert labels.tolist() == c['labels']
    close(coeffs.tolist(), c['coeffs'])


def _fill(module):
    sd = module.state_dict()
    for i, k in enumerate(sorted(sd)):
        if sd[k].dtype.is_floating_point:
            sd[k].copy_(seq(tuple(sd[k].shape), float(i), 0.3))


def _head_inputs():
    ref = REF['heads']
    h, w = ref['image']
    feats = [
        seq((1, 8, h // s, w // s), float(j), 1.0)
        for j, s in enumerate([4, 8, 16, 32, 64])
    ]
    masks = _rect_masks(ref['gt_rects'], (h, w))
    boxes = torch.tensor(
        [[x0, y0, x1, y1] for y0, x0, y1, x1 in ref['gt_rects']],
        dtype=torch.float,
    )
    meta = [
        dict(img_shape=(h, w, 3), ori_shape=(h, w, 3), pad_shape=(h, w, 3))
    ]
    return feats, masks, boxes, torch.tensor(ref['gt_labels']), meta


@pytest.mark.parametrize('name', sorted(REF['heads']['results']))
def test_solo_heads_match_mmdet(name):
    ref = REF['heads']
    cfg = dict(ref['common'], **ref['extra'][name])
    head = build_head(ConfigDict(dict(cfg, test_cfg=ref['test_cfg'])))
    _fill(head)
    feats, masks, boxes, labels, meta = _head_inputs()
    head.train()
    losses = head.forward_train(
        feats, [labels], [masks], meta, gt_bboxes=[boxes]
    )
    want = ref['results'][name]
    for key, value in want['losses'].items():
        close(float(losses[key]), value)
    head.eval()
    with torch.no_grad():
        res = head.simple_test(feats, meta)[0]
    assert len(want['scores']) > 0
    close(res['scores'].tolist(), want['scores'])
    assert res['labels'].tolist() == want['labels']
    assert res['masks'].sum((1, 2)).tolist() == want['mask_areas']


def _tiny_detector(head_type):
    gn = dict(type='GN', num_groups=8, requires_grad=True)
    sigmoid_inside = head_type in ('SOLOHead', 'SOLOV2Head')
    head = dict(
        type=head_type,
        num_classes=3,
        in_channels=32,
        feat_channels=32,
        stacked_convs=2,
        strides=[8, 8, 16, 32, 32],
        scale_ranges=((1, 24), (12, 48), (24, 96), (48, 192), (96, 2048)),
        num_grids=[10, 8, 6, 4, 3],
        norm_cfg=gn,
        loss_mask=dict(
            type='DiceLoss',
            use_sigmoid=True,
            activate=sigmoid_inside,
            loss_weight=3.0,
        ),
        loss_cls=dict(
            type='FocalLoss',
            use_sigmoid=True,
            gamma=2.0,
            alpha=0.25,
            loss_weight=1.0,
        ),
    )
    det = 'SOLO'
    if head_type == 'SOLOV2Head':
        det = 'SOLOv2'
        head['mask_feature_head'] = dict(
            feat_channels=16,
            start_level=0,
            end_level=3,
            out_channels=32,
            mask_stride=4,
            norm_cfg=gn,
        )
    cfg = dict(
        type=det,
        backbone=dict(
            type='ResNet',
            depth=18,
            num_stages=4,
            out_indices=(0, 1, 2, 3),
            frozen_stages=-1,
        ),
        neck=dict(
            type='FPN',
            in_channels=[64, 128, 256, 512],
            out_channels=32,
            start_level=0,
            num_outs=5,
        ),
        mask_head=head,
        test_cfg=dict(
            nms_pre=500,
            score_thr=0.0,
            mask_thr=0.5,
            filter_thr=0.0,
            kernel='gaussian',
            sigma=2.0,
            max_per_img=100,
        ),
    )
    return build_detector(Config(dict(m=cfg)).m)


@pytest.mark.parametrize(
    'head_type',
    ['SOLOHead', 'DecoupledSOLOHead', 'DecoupledSOLOLightHead', 'SOLOV2Head'],
)
def test_detector_train_step_and_simple_test(head_type):
    torch.manual_seed(0)
    model = _tiny_detector(head_type)
    model.train()
    img = torch.randn(1, 3, 64, 96)
    masks = np.zeros((2, 64, 96), np.uint8)
    masks[0, 8:40, 10:50] = 1
    masks[1, 30:62, 50:94] = 1
    boxes = torch.tensor([[10.0, 8, 50, 40], [50, 30, 94, 62]])
    meta = [
        dict(
            img_shape=(64, 96, 3),
            ori_shape=(64, 96, 3),
            pad_shape=(64, 96, 3),
            scale_factor=np.ones(4),
            flip=False,
        )
    ]
    losses = model.forward_train(
        img,
        meta,
        [BitmapMasks(masks, 64, 96)],
        [torch.tensor([0, 2])],
        gt_bboxes=[boxes],
    )
    assert set(losses) == {'loss_mask', 'loss_cls'}
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    assert model.backbone.conv1.weight.grad.abs().sum() > 0
    # make every mask prediction positive so the test path keeps instances
    head = model.mask_head
    for name, p in head.named_parameters():
        if name.startswith(('conv_mask_list', 'conv_cls')):
            p.data.fill_(0.0)
            if name.endswith('bias'):
                p.data.fill_(2.0)
    model.eval()
    with torch.no_grad():
        ((bbox_results, mask_results),) = model.simple_test(img, meta)
    assert len(bbox_results) == len(mask_results) == 3
    for dets, segs in zip(bbox_results, mask_results):
        assert dets.shape[1:] == (5,) and dets.dtype == np.float32
        assert len(segs) == len(dets)
        for m in segs:
            assert m.shape == (64, 96) and m.dtype == bool
    if head_type != 'SOLOV2Head':
        assert sum(len(d) for d in bbox_results) > 0


def _yolact_heads(cfg):
    bbox_head = build_head(
        ConfigDict(
            dict(
                cfg['bbox_head'],
                train_cfg=cfg['train_cfg'],
                test_cfg=cfg['test_cfg'],
            )
        )
    )
    mask_head = build_head(ConfigDict(cfg['mask_head']))
    segm_head = build_head(ConfigDict(cfg['segm_head']))
    for h in (bbox_head, mask_head, segm_head):
        _fill(h)
    return bbox_head, mask_head, segm_head


def test_yolact_heads_match_mmdet():
    ref = REF['yolact']
    cfg, want = ref['config'], ref['results']
    # JSON turned the tuples into lists; the heads accept either
    bbox_head, mask_head, segm_head = _yolact_heads(cfg)
    s = 64
    feats = [seq((1, 8, n, n), float(j), 1.0) for j, n in enumerate([8, 4, 2])]
    masks = _rect_masks(cfg['gt_rects'], (s, s)).to(torch.uint8)
    boxes = torch.tensor(
        [[x0, y0, x1, y1] for y0, x0, y1, x1 in cfg['gt_rects']],
        dtype=torch.float,
    )
    labels = torch.tensor(cfg['gt_labels'])
    meta = [
        dict(
            img_shape=(s, s, 3),
            ori_shape=(s, s, 3),
            pad_shape=(s, s, 3),
            scale_factor=np.ones(4, np.float32),
        )
    ]
    cls, reg, coeff = bbox_head(feats)
    losses, sampling = bbox_head.loss(cls, reg, [boxes], [labels], meta)
    losses.update(segm_head.loss(segm_head(feats[0]), [masks], [labels]))
    mask_pred = mask_head(feats[0], coeff, [boxes], meta, sampling)
    losses.update(mask_head.loss(mask_pred, [masks], [boxes], meta, sampling))
    assert set(losses) == set(want['losses'])
    for key, value in want['losses'].items():
        close([float(v) for v in losses[key]], value)
    bbox_head.eval()
    mask_head.eval()
    with torch.no_grad():
        dets, labs, coeffs = bbox_head.simple_test(feats, meta)
        segs = mask_head.simple_test(feats, dets, labs, coeffs, meta)
    close(dets[0].tolist(), want['dets'])
    assert labs[0].tolist() == want['labels']
    areas = [[int(m.sum()) for m in per_cls] for per_cls in segs[0]]
    assert areas == want['mask_areas']


def test_yolact_crop_float64_definition():
    from mmdet.models.dense_heads.yolact_head import crop_masks

    masks = torch.ones(6, 8, 2, dtype=torch.float64)
    boxes = torch.tensor([[0.25, 0.5, 0.5, 1.0], [0.5, 0.0, 0.0, 0.5]])
    out = crop_masks(masks, boxes.double())
    # box 0: x in [2-1, 4+1) of 8, y in [3-1, 6+1) of 6 (1 px padding)
    want0 = torch.zeros(6, 8, dtype=torch.float64)
    want0[2:6, 1:5] = 1
    assert torch.equal(out[..., 0], want0)
    # box 1: x1 > x2; as in MMDetection x1 becomes min(x1, x2) = 0 and
    # x2 = max(new x1, x2) stays 0, so x in [0, 0+1); y in [0, 3+1)
    want1 = torch.zeros(6, 8, dtype=torch.float64)
    want1[0:4, 0:1] = 1
    assert torch.equal(out[..., 1], want1)


def test_yolact_detector_train_step_and_simple_test():
    torch.manual_seed(0)
    cfg = Config.fromfile(
        osp.join(
            osp.dirname(__file__),
            '..',
            '..',
            'configs',
            'yolact',
            'yolact_r50_1x8_coco.py',
        )
    ).model
    cfg.backbone = dict(
        type='ResNet',
        depth=18,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=-1,
        norm_eval=False,
        style='pytorch',
    )
    cfg.neck.in_channels = [64, 128, 256, 512]
    cfg.neck.out_channels = 32
    for key in ('bbox_head', 'mask_head', 'segm_head'):
        cfg[key].in_channels = 32
        cfg[key].num_classes = 3
    cfg.bbox_head.feat_channels = 32
    cfg.mask_head.proto_channels = (16, None, 8)
    cfg.mask_head.proto_kernel_sizes = (3, -2, 1)
    cfg.mask_head.num_protos = cfg.bbox_head.num_protos = 8
    model = build_detector(cfg)
    model.train()
    img = torch.randn(1, 3, 96, 96)
    masks = np.zeros((2, 96, 96), np.uint8)
    masks[0, 8:60, 10:50] = 1
    masks[1, 40:90, 50:94] = 1
    boxes = torch.tensor([[10.0, 8, 50, 60], [50, 40, 94, 90]])
    meta = [
        dict(
            img_shape=(96, 96, 3),
            ori_shape=(96, 96, 3),
            pad_shape=(96, 96, 3),
            scale_factor=np.ones(4, np.float32),
            flip=False,
        )
    ]
    losses = model.forward_train(
        img,
        meta,
        [boxes],
        [torch.tensor([0, 2])],
        gt_masks=[BitmapMasks(masks, 96, 96)],
    )
    assert set(losses) == {'loss_cls', 'loss_bbox', 'loss_segm', 'loss_mask'}
    total, _ = model._parse_losses(losses)
    assert torch.isfinite(total)
    total.backward()
    assert model.backbone.conv1.weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        ((bbox_results, segm_results),) = model.simple_test(
            img, meta, rescale=True
        )
    assert len(bbox_results) == len(segm_results) == 3
    assert sum(len(d) for d in bbox_results) > 0
    for dets, segs in zip(bbox_results, segm_results):
        assert dets.shape[1:] == (5,)
        assert len(segs) == len(dets)
        for m in segs:
            assert m.shape == (96, 96) and m.dtype == np.uint8


def test_show_result_draws_mask_boxes(tmp_path):
    from mmdet.core.mask import with_mask_boxes

    mask = np.zeros((10, 12), bool)
    mask[2:5, 3:9] = True
    dets = np.zeros((2, 5), np.float32)
    boxes, masks = with_mask_boxes(([dets], [[mask, np.zeros_like(mask)]]))
    np.testing.assert_array_equal(boxes[0][0, :4], [3, 2, 9, 5])
    np.testing.assert_array_equal(boxes[0][1], 0)
    assert masks[0][0] is mask
    # a result with boxes is drawn with them
    boxed = ([dets + 1], [[mask, mask]])
    assert with_mask_boxes(boxed) is boxed
    model = _tiny_detector('SOLOHead')
    dets[:, 4] = 0.9
    out = model.show_result(
        np.zeros((10, 12, 3), np.uint8),
        (
            [dets[:1], np.zeros((0, 5), np.float32), dets[1:]],
            [[mask], [], [np.zeros_like(mask)]],
        ),
        out_file=str(tmp_path / 'x.jpg'),
    )
    assert out is None and (tmp_path / 'x.jpg').exists()
