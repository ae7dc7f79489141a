"""RPN, Fast R-CNN, Double-Head, Dynamic, OHEM and Mask Scoring R-CNN
built from their stock configs: a training step and simple_test on tiny
random images, plus Dynamic R-CNN's updates and MaskIoUHead's targets on
hand-made cases."""

import copy
import os.path as osp
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmcv import Config

from mmdet.core import BitmapMasks, bbox_overlaps
from mmdet.models import build_detector, build_head

ROOT = osp.dirname(osp.dirname(osp.dirname(__file__)))


def _model(path, sampled=16):
    """A stock config's model without pretrained weights, fewer RoIs."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs', path))
    model = copy.deepcopy(cfg.model)
    model.backbone.init_cfg = None
    if model.get('train_cfg', {}).get('rcnn') is not None:
        model.train_cfg.rcnn.sampler.num = sampled
    for key in ('rpn_proposal',):
        if model.train_cfg.get(key) is not None:
            model.train_cfg[key].max_per_img = 50
    if model.test_cfg.get('rpn') is not None:
        model.test_cfg.rpn.max_per_img = 30
    torch.manual_seed(0)
    return build_detector(model)


def _batch(num=2, size=64, scale=1.0):
    torch.manual_seed(1)
    img = torch.randn(num, 3, size, size)
    metas = [
        dict(
            img_shape=(size, size, 3),
            ori_shape=(int(size / scale), int(size / scale), 3),
            pad_shape=(size, size, 3),
            scale_factor=np.full(4, scale, dtype=np.float32),
            flip=False,
            flip_direction=None,
        )
        for _ in range(num)
    ]
    boxes = [
        torch.tensor([[4.0, 6.0, 40.0, 44.0], [20.0, 24.0, 60.0, 62.0]])
        for _ in range(num)
    ]
    labels = [torch.tensor([0, 3]) for _ in range(num)]
    masks = []
    for b in boxes:
        m = np.zeros((2, size, size), dtype=np.uint8)
        for j, (x1, y1, x2, y2) in enumerate(b.int().tolist()):
            m[j, y1:y2, x1:x2] = 1
        masks.append(BitmapMasks(m, size, size))
    return img, metas, boxes, labels, masks


def _check_losses(losses, keys):
    assert keys <= set(losses)
    total = sum(
        v if torch.is_tensor(v) else sum(v)
        for k, v in losses.items()
        if 'loss' in k
    )
    assert torch.isfinite(total)
    total.backward()


def _check_bbox_results(results, num_classes=80):
    for res in results:
        assert len(res) == num_classes
        for arr in res:
            assert arr.ndim == 2 and arr.shape[1] == 5


def test_rpn_train_and_test():
    model = _model('rpn/rpn_r50_fpn_1x_coco.py')
    img, metas, boxes, _, _ = _batch()
    model.train()
    _check_losses(
        model.forward_train(img, metas, boxes),
        {'loss_rpn_cls', 'loss_rpn_bbox'},
    )
    model.eval()
    img, metas, *_ = _batch(scale=2.0)
    with torch.no_grad():
        plain = model.simple_test(img, copy.deepcopy(metas))
        scaled = model.simple_test(img, copy.deepcopy(metas), rescale=True)
    for p, s in zip(plain, scaled):
        assert isinstance(p, np.ndarray) and p.shape[1] == 5
        assert 0 < len(p) <= 30
        np.testing.assert_allclose(s[:, :4], p[:, :4] / 2.0, rtol=1e-6)
        np.testing.assert_array_equal(s[:, 4], p[:, 4])


def test_fast_rcnn_train_and_test():
    model = _model('fast_rcnn/fast_rcnn_r50_fpn_1x_coco.py')
    assert not model.with_rpn
    img, metas, boxes, labels, _ = _batch()
    torch.manual_seed(2)
    proposals = [
        torch.cat([torch.rand(20, 2) * 30, 30 + torch.rand(20, 2) * 30], 1)
        for _ in range(2)
    ]
    model.train()
    losses = model.forward_train(
        img, metas, boxes, labels, proposals=proposals
    )
    _check_losses(losses, {'loss_cls', 'loss_bbox', 'acc'})
    assert 'loss_rpn_cls' not in losses
    model.eval()
    with torch.no_grad():
        results = model(
            [img], [metas], return_loss=False, proposals=[proposals]
        )
    _check_bbox_results(results)
    with pytest.raises(NotImplementedError):
        model.forward_test([img, img], [metas, metas], [proposals] * 2)


@pytest.mark.parametrize(
    'path',
    [
        'double_heads/dh_faster_rcnn_r50_fpn_1x_coco.py',
        'dynamic_rcnn/dynamic_rcnn_r50_fpn_1x_coco.py',
        'faster_rcnn/faster_rcnn_r50_fpn_ohem_1x_coco.py',
    ],
)
def test_box_families_train_and_test(path):
    model = _model(path)
    img, metas, boxes, labels, _ = _batch()
    model.train()
    _check_losses(
        model.forward_train(img, metas, boxes, labels),
        {'loss_rpn_cls', 'loss_cls', 'loss_bbox', 'acc'},
    )
    model.eval()
    with torch.no_grad():
        _check_bbox_results(model.simple_test(img, metas, rescale=True))


def test_double_head_pools_enlarged_rois_for_regression():
    model = _model('double_heads/dh_faster_rcnn_r50_fpn_1x_coco.py').eval()
    head = model.roi_head
    feats = [torch.randn(1, 256, s, s) for s in (16, 8, 4, 2, 1)]
    rois = torch.tensor([[0.0, 4.0, 4.0, 30.0, 40.0]])
    with torch.no_grad():
        out = head._bbox_forward(feats, rois)
        ext = head.bbox_roi_extractor
        cls_feats = ext(feats[:4], rois)
        reg_feats = ext(feats[:4], rois, roi_scale_factor=1.3)
        cls_score, bbox_pred = head.bbox_head(cls_feats, reg_feats)
        _, unscaled_pred = head.bbox_head(cls_feats, cls_feats)
    torch.testing.assert_close(out['cls_score'], cls_score)
    torch.testing.assert_close(out['bbox_pred'], bbox_pred)
    assert not torch.allclose(out['bbox_pred'], unscaled_pred)


def test_dynamic_rcnn_records_and_updates():
    model = _model('dynamic_rcnn/dynamic_rcnn_r50_fpn_1x_coco.py')
    head = model.roi_head
    dyn = head.train_cfg.dynamic_rcnn
    dyn.update_iter_interval = 2
    dyn.iou_topk = 5
    img, metas, boxes, labels, _ = _batch(num=1)
    torch.manual_seed(3)
    proposals = [
        torch.cat([torch.rand(40, 2) * 30, 30 + torch.rand(40, 2) * 30], 1)
    ]
    feats = model.extract_feat(img)
    head.forward_train(feats, metas, proposals, boxes, labels)
    # the 5th largest IoU over the proposals and the gts added to them
    ious = bbox_overlaps(torch.cat([boxes[0], proposals[0]]), boxes[0])
    expected = ious.max(dim=1).values.topk(5).values[-1].item()
    assert head.iou_history == [pytest.approx(expected, abs=1e-6)]
    assert len(head.beta_history) == 1
    head.forward_train(feats, metas, proposals, boxes, labels)
    # the second iteration triggers the update and clears the records
    assert head.iou_history == [] and head.beta_history == []
    thr = max(0.4, expected)
    assert head.bbox_assigner.pos_iou_thr == pytest.approx(thr, abs=1e-6)
    assert head.bbox_assigner.neg_iou_thr == head.bbox_assigner.pos_iou_thr
    assert head.bbox_assigner.min_pos_iou == head.bbox_assigner.pos_iou_thr


def test_dynamic_rcnn_update_rule():
    model = _model('dynamic_rcnn/dynamic_rcnn_r50_fpn_1x_coco.py')
    head = model.roi_head
    head.iou_history = [0.5, 0.7]
    head.beta_history = [0.2, 0.9, 0.5]
    assert head.update_hyperparameters() == pytest.approx((0.6, 0.5))
    assert head.bbox_head.loss_bbox.beta == pytest.approx(0.5)
    # IoU below initial_iou, beta above initial_beta: both clamp
    head.iou_history = [0.1, 0.2]
    head.beta_history = [3.0, 2.0]
    assert head.update_hyperparameters() == pytest.approx((0.4, 1.0))
    # a ~0 median keeps the current beta
    head.bbox_head.loss_bbox.beta = 0.3
    head.iou_history = [0.5]
    head.beta_history = [0.0, 0.0, 1.0]
    assert head.update_hyperparameters()[1] == pytest.approx(0.3)


def test_mask_iou_targets_hand_made():
    head = build_head(dict(type='MaskIoUHead', num_classes=3))
    # gt instance: rows 0-3, cols 0-7 of a 10 x 10 image (area 32); the
    # proposal [0, 0, 4, 4] holds 16 of it: area ratio 0.5
    gt = np.zeros((1, 10, 10), dtype=np.uint8)
    gt[0, 0:4, 0:8] = 1
    res = SimpleNamespace(
        pos_bboxes=torch.tensor([[0.0, 0.0, 4.0, 4.0]]),
        pos_assigned_gt_inds=torch.tensor([0]),
    )
    mask_targets = torch.ones(1, 2, 2)
    mask_pred = torch.tensor([[[3.0, 1.0], [-1.0, -2.0]]])
    cfg = SimpleNamespace(mask_thr_binary=0.5)
    targets = head.get_targets(
        [res], [BitmapMasks(gt, 10, 10)], mask_pred, mask_targets, cfg
    )
    # predicted 2 px (logits > 0.5), overlap 2, gt area 4 / 0.5 = 8:
    # IoU = 2 / (2 + 8 - 2)
    torch.testing.assert_close(
        targets, torch.tensor([0.25]), atol=1e-6, rtol=0
    )
    # loss: MSE (weight 0.5) over the positive targets only
    pred = torch.tensor([0.5, 0.9])
    loss = head.loss(pred, torch.tensor([0.25, 0.0]))['loss_mask_iou']
    assert loss.item() == pytest.approx(0.5 * 0.25**2)
    zero = head.loss(pred, torch.zeros(2))['loss_mask_iou']
    assert zero.item() == 0.0


def test_mask_scoring_rcnn_train_and_test():
    model = _model('ms_rcnn/ms_rcnn_r50_fpn_1x_coco.py')
    img, metas, boxes, labels, masks = _batch()
    model.train()
    losses = model.forward_train(img, metas, boxes, labels, gt_masks=masks)
    _check_losses(losses, {'loss_mask', 'loss_mask_iou', 'loss_cls'})
    model.eval()
    model.roi_head.test_cfg.score_thr = 0.0
    with torch.no_grad():
        results = model.simple_test(img, metas, rescale=True)
    for bbox_res, (segms, scores) in results:
        assert len(bbox_res) == len(segms) == len(scores) == 80
        for boxes_c, segm_c, score_c in zip(bbox_res, segms, scores):
            assert len(boxes_c) == len(segm_c) == len(score_c)
    assert sum(len(b) for b in results[0][0]) > 0


def test_rpn_aug_test_and_show():
    model = _model('rpn/rpn_r50_fpn_1x_coco.py').eval()
    img, metas, *_ = _batch(num=1)
    flipped = [dict(m, flip=True, flip_direction='horizontal') for m in metas]
    with torch.no_grad():
        results = model.aug_test(
            [img, img.flip(-1)], [metas, flipped], rescale=True
        )
    assert len(results) == 1
    props = results[0]
    assert props.ndim == 2 and props.shape[1] == 5 and len(props) > 0
    assert (props[:, :4] >= 0).all() and (props[:, [0, 2]] <= 64).all()
    with torch.no_grad():
        unscaled = model.aug_test([img, img.flip(-1)], [metas, flipped])
    np.testing.assert_allclose(unscaled[0], props, rtol=1e-5, atol=1e-4)
    drawn = model.show_result(
        np.zeros((64, 64, 3), dtype=np.uint8), props, top_k=5
    )
    assert drawn.shape == (64, 64, 3) and drawn.any()


@pytest.mark.parametrize(
    'path',
    [
        'faster_rcnn/faster_rcnn_r50_caffe_c4_1x_coco.py',
        'mask_rcnn/mask_rcnn_r50_caffe_c4_1x_coco.py',
    ],
)
def test_c4_shared_head_train_and_test(path):
    model = _model(path, sampled=8)
    head = model.roi_head
    assert head.with_shared_head
    assert any(k.startswith('shared_head.layer4.') for k in head.state_dict())
    img, metas, boxes, labels, masks = _batch()
    model.train()
    # norm_eval keeps the shared head's BatchNorm in eval mode
    assert not head.shared_head.layer4[0].bn1.training
    kwargs = dict(gt_masks=masks) if model.with_mask else {}
    _check_losses(
        model.forward_train(img, metas, boxes, labels, **kwargs),
        {'loss_rpn_cls', 'loss_cls', 'loss_bbox'},
    )
    model.eval()
    rois = torch.tensor([[0.0, 4.0, 4.0, 40.0, 40.0]])
    with torch.no_grad():
        feats = model.extract_feat(img)
        out = head._bbox_forward(feats, rois)
        pooled = head.bbox_roi_extractor(feats, rois)
        expected = head.bbox_head(head.shared_head(pooled))[0]
        torch.testing.assert_close(out['cls_score'], expected)
        results = model.simple_test(img, metas, rescale=True)
    if model.with_mask:
        results = [r[0] for r in results]
    _check_bbox_results(results)
