"""RetinaNet, FCOS and ATSS: checkpoint layout and parameter counts of the
configs, the worked numerics of MMDetection 2.28, losses, gradients and
the result format."""

import copy
import json
import os.path as osp
import sys

import numpy as np
import pytest
import torch
from mmcv import Config

from mmdet.core import (
    AnchorGenerator,
    ATSSAssigner,
    MlvlPointGenerator,
    bbox2result,
)
from mmdet.models import build_detector, build_head, build_loss

sys.path.insert(0, osp.dirname(__file__))
from test_detectors import make_batch  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.dirname(__file__)))
REFERENCE = osp.join(ROOT, 'tests', 'data', 'reference')
ODCONV = [
    f'{family}_odconv4x_{backbone}_fpn{suffix}_1x_coco'
    for family, suffix in (
        ('retinanet', ''),
        ('fcos', '_gn-head'),
        ('atss', ''),
    )
    for backbone in ('r50', 'mobilenetv2_100')
]
LOSS_KEYS = {
    'retinanet': {'loss_cls', 'loss_bbox'},
    'fcos': {'loss_cls', 'loss_bbox', 'loss_centerness'},
    'atss': {'loss_cls', 'loss_bbox', 'loss_centerness'},
}
STOCK = {
    'retinanet_r50_fpn_1x_coco': 'retinanet',
    'fcos_r50_caffe_fpn_gn-head_1x_coco': 'fcos',
    'atss_r50_fpn_1x_coco': 'atss',
}
HEADS = {'retinanet': 'RetinaHead', 'fcos': 'FCOSHead', 'atss': 'ATSSHead'}


def numerics():
    with open(osp.join(REFERENCE, 'numerics_families.json')) as f:
        return json.load(f)


def odconv_cfg(name):
    folder = STOCK.get(name, 'odconv')
    cfg = Config.fromfile(osp.join(ROOT, 'configs', folder, name + '.py'))
    model = copy.deepcopy(cfg.model)
    model.pretrained = None
    model.backbone.pop('init_cfg', None)
    return cfg, model


def reference_shapes(folder, name):
    with open(osp.join(REFERENCE, folder, name + '.json')) as f:
        return {k: tuple(v) for k, v in json.load(f).items()}


def reference_params(group, name):
    with open(osp.join(REFERENCE, 'params.json')) as f:
        return json.load(f)[group][name]


# ------------------------------------------------------------ configs
@pytest.mark.parametrize('name', ODCONV)
def test_odconv_config_settings(name):
    cfg, model = odconv_cfg(name)
    family = name.split('_')[0]
    assert (
        model.type
        == {'retinanet': 'RetinaNet', 'fcos': 'FCOS', 'atss': 'ATSS'}[family]
    )
    assert model.bbox_head.type == HEADS[family]
    assert model.bbox_head.num_classes == 80
    assert cfg.model.pretrained.startswith('checkpoints/imagenet/od_')
    assert model.backbone.kernel_num == 4
    assert model.backbone.reduction == 0.0625
    assert model.backbone.frozen_stages == 1 and model.backbone.norm_eval
    assert 'init_cfg' not in cfg.model.backbone  # the stock one is dropped
    assert cfg.find_unused_parameters is True
    # pytorch-style normalization (the OD backbones' ImageNet weights)
    for pipeline in (
        cfg.data.train.pipeline,
        cfg.data.test.pipeline[1].transforms,
    ):
        norm = [t for t in pipeline if t.type == 'Normalize'][0]
        assert norm.mean == [123.675, 116.28, 103.53]
        assert norm.to_rgb is True
    assert model.test_cfg.nms_pre == 1000
    assert model.test_cfg.max_per_img == 100


@pytest.mark.parametrize('name', ODCONV)
def test_odconv_params_and_state_dict_layout(name):
    _, model_cfg = odconv_cfg(name)
    model = build_detector(model_cfg)
    assert sum(p.numel() for p in model.parameters()) == reference_params(
        'detectors', name
    )
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes == reference_shapes('detectors', name)


@pytest.mark.parametrize('name', sorted(STOCK))
def test_stock_config_settings_and_layout(name):
    """MMDetection 2.28's own configs: their checkpoints (no backbone
    ``fc``) load into these models."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs', STOCK[name], name + '.py'))
    backbone = cfg.model.backbone
    caffe = 'caffe' in name
    assert backbone.style == ('caffe' if caffe else 'pytorch')
    assert backbone.norm_cfg.requires_grad is not caffe
    assert cfg.model.neck.start_level == 1
    assert cfg.model.neck.add_extra_convs == (
        'on_input' if name.startswith('retinanet') else 'on_output'
    )
    assert cfg.optimizer.lr == 0.01
    norm = [t for t in cfg.data.train.pipeline if t.type == 'Normalize'][0]
    assert norm.to_rgb is not caffe
    backbone.init_cfg = None
    model = build_detector(cfg.model)
    assert sum(p.numel() for p in model.parameters()) == reference_params(
        'detectors_mmdet', name
    )
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes == reference_shapes('detectors_mmdet', name)


# ------------------------------------------------------------ numerics
def test_focal_loss_matches_mmdet():
    ref = numerics()['focal_loss']
    loss = build_loss(
        dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25)
    )
    pred, labels = torch.tensor(ref['pred']), torch.tensor(ref['labels'])
    assert loss(pred, labels).item() == pytest.approx(ref['mean'], abs=1e-4)
    assert loss(pred, labels, avg_factor=3).item() == pytest.approx(
        ref['avg_factor_3'], abs=1e-4
    )
    # per-sample weights zero out a sample's whole row
    weight = torch.ones(6)
    weight[0] = 0
    full = loss(pred, labels, reduction_override='none')
    assert full.shape == (6, 4)
    assert loss(
        pred, labels, weight, reduction_override='sum'
    ).item() == pytest.approx(full[1:].sum().item(), rel=1e-6)


def test_focal_loss_rejects_softmax():
    with pytest.raises(ValueError, match='use_sigmoid=True'):
        build_loss(dict(type='FocalLoss', use_sigmoid=False))


def test_giou_and_iou_losses_match_mmdet():
    ref = numerics()
    pred = torch.tensor(ref['giou_loss']['pred'])
    target = torch.tensor(ref['giou_loss']['target'])
    giou = build_loss(dict(type='GIoULoss', loss_weight=2.0))
    assert giou(pred, target).item() == pytest.approx(
        ref['giou_loss']['mean'], abs=1e-4
    )
    with pytest.warns(UserWarning, match='linear=True'):
        iou = build_loss(dict(type='IoULoss', linear=True))
    assert iou(pred, target).item() == pytest.approx(
        ref['iou_loss_linear']['mean'], abs=1e-4
    )
    # all-zero weights: a zero loss that keeps the graph
    pred.requires_grad_(True)
    zero = giou(pred, target, weight=torch.zeros(3))
    assert zero.item() == 0 and zero.requires_grad
    # per-box weights: identical boxes (loss 0) weigh nothing
    log_iou = build_loss(dict(type='IoULoss'))
    weighted = log_iou(
        pred,
        target,
        weight=torch.tensor([1.0, 0.0, 0.0]),
        reduction_override='sum',
    )
    ious = 64.0 / 136.0
    assert weighted.item() == pytest.approx(-np.log(ious), rel=1e-5)


def test_retinanet_base_anchors_match_mmdet():
    ref = numerics()
    gen = AnchorGenerator(
        octave_base_scale=4,
        scales_per_octave=3,
        ratios=[0.5, 1.0, 2.0],
        strides=[8, 16, 32, 64, 128],
    )
    assert gen.num_base_priors == ref['retinanet_num_base_anchors']
    np.testing.assert_allclose(
        gen.base_anchors[0].numpy(),
        np.array(ref['retinanet_base_anchors_stride8']),
        atol=1e-4,
    )


def fcos_head(**kwargs):
    cfg = dict(
        type='FCOSHead',
        num_classes=4,
        in_channels=8,
        feat_channels=8,
        stacked_convs=1,
        strides=[8, 16, 32, 64, 128],
        norm_cfg=dict(type='GN', num_groups=4),
    )
    cfg.update(kwargs)
    return build_head(cfg)


def test_fcos_targets_and_centerness_match_mmdet():
    ref = numerics()['fcos_targets']
    head = fcos_head(
        center_sampling=True,
        center_sample_radius=1.5,
        norm_on_bbox=True,
        centerness_on_reg=True,
    )
    points = MlvlPointGenerator([8, 16, 32, 64, 128]).grid_priors(
        [(16, 16), (8, 8), (4, 4), (2, 2), (1, 1)], device='cpu'
    )
    labels, targets = head.get_targets(
        points,
        [torch.tensor(ref['gt_bboxes'])],
        [torch.tensor(ref['gt_labels'])],
    )
    labels, targets = torch.cat(labels), torch.cat(targets)
    assert labels.numel() == ref['num_points']
    pos = torch.nonzero(labels < 4).squeeze(1)
    assert pos.tolist() == ref['pos_index']
    assert labels[pos].tolist() == ref['pos_labels']
    np.testing.assert_allclose(
        targets[pos].numpy(), np.array(ref['pos_bbox_targets']), atol=1e-4
    )
    np.testing.assert_allclose(
        head.centerness_target(targets[pos]).numpy(),
        np.array(ref['pos_centerness']),
        atol=1e-4,
    )


def test_fcos_regress_ranges_pick_the_level():
    """Without center sampling a point takes the smallest box containing
    it whose largest side distance fits the level's range."""
    head = fcos_head()
    points = [torch.tensor([[50.0, 50.0]]), torch.tensor([[50.0, 50.0]])]
    head.strides, head.regress_ranges = [8, 16], ((-1, 20), (20, 1e8))
    labels, targets = head.get_targets(
        points,
        [torch.tensor([[40.0, 40.0, 60.0, 60.0], [0.0, 0.0, 100.0, 90.0]])],
        [torch.tensor([2, 1])],
    )
    # level 0: the small box (max distance 10); level 1: the big one (50)
    assert [lab.item() for lab in labels] == [2, 1]
    assert targets[1].tolist() == [[50.0, 50.0, 50.0, 40.0]]


def test_atss_assignment_matches_mmdet():
    ref = numerics()['atss_assign']
    gen = AnchorGenerator(
        ratios=[1.0],
        octave_base_scale=8,
        scales_per_octave=1,
        strides=[8, 16, 32, 64, 128],
    )
    anchors = gen.grid_priors(
        [(16, 16), (8, 8), (4, 4), (2, 2), (1, 1)], device='cpu'
    )
    result = ATSSAssigner(topk=9).assign(
        torch.cat(anchors),
        [a.size(0) for a in anchors],
        torch.tensor(ref['gt_bboxes']),
        gt_labels=torch.tensor([5, 7]),
    )
    pos = torch.nonzero(result.gt_inds > 0).squeeze(1)
    assert pos.tolist() == ref['positive_anchor_index']
    assert (result.gt_inds[pos] - 1).tolist() == ref['assigned_gt']
    np.testing.assert_allclose(
        result.max_overlaps[pos].numpy(),
        np.array(ref['max_overlaps_pos']),
        atol=1e-4,
    )
    assert set(result.labels[pos].tolist()) == {5, 7}
    assert (result.labels[result.gt_inds == 0] == -1).all()


def test_atss_assigner_without_gts_gives_negatives():
    anchors = torch.tensor([[0.0, 0.0, 10.0, 10.0], [5.0, 5.0, 20.0, 20.0]])
    result = ATSSAssigner(topk=9).assign(
        anchors, [2], torch.zeros(0, 4), gt_labels=torch.zeros(0).long()
    )
    assert result.gt_inds.tolist() == [0, 0]
    assert result.labels.tolist() == [-1, -1]


# ---------------------------------------------------- post-processing
def test_get_bboxes_filters_pairs_and_applies_score_factors():
    """MMDetection 2.28's order: score_thr on the class scores, top
    ``nms_pre`` (point, class) pairs per level, then the centerness
    multiplies the scores before the NMS."""
    head = fcos_head(strides=[8], regress_ranges=((-1, 1e8),))
    head.eval()
    logit = torch.full((1, 4, 2, 2), -10.0)
    logit[0, 1, 0, 0] = 2.0  # point 0, class 1: p = 0.881
    logit[0, 3, 0, 0] = 0.0  # point 0, class 3: p = 0.5
    logit[0, 2, 1, 1] = -1.0  # point 3, class 2: p = 0.269
    dist = torch.full((1, 4, 2, 2), 3.0)
    centerness = torch.zeros(1, 1, 2, 2)  # sigmoid 0.5
    meta = dict(img_shape=(16, 16, 3), scale_factor=np.full(4, 2.0))
    cfg = dict(
        nms_pre=2,
        score_thr=0.2,
        nms=dict(type='nms', iou_threshold=0.5),
        max_per_img=10,
    )
    dets, labels = head.get_bboxes(
        [logit], [dist], [centerness], img_metas=[meta], cfg=cfg, rescale=True
    )[0]
    # the third pair (0.269) is cut by nms_pre=2; both kept pairs share a
    # box but differ in class, so the NMS keeps both
    assert labels.tolist() == [1, 3]
    np.testing.assert_allclose(
        dets[:, 4].numpy(), [0.5 / (1 + np.exp(-2.0)), 0.25], rtol=1e-5
    )
    # point (4, 4) with distances 3: (1, 1, 7, 7), halved by rescale
    np.testing.assert_allclose(dets[0, :4].numpy(), [0.5, 0.5, 3.5, 3.5])


# ------------------------------------------- training and test passes
def small_model(name):
    """An ODConv config's model with a narrow head (the code paths are the
    same as at full width)."""
    _, model = odconv_cfg(name)
    model.neck.out_channels = 32
    model.bbox_head.update(in_channels=32, feat_channels=32, stacked_convs=2)
    if not name.startswith('retinanet'):
        # 32 channels in groups of 4: GroupNorm needs more than one value
        # per group on the 1x1 top level
        model.bbox_head.norm_cfg = dict(
            type='GN', num_groups=8, requires_grad=True
        )
    # untrained scores are low: keep every (prior, class) pair
    model.test_cfg.score_thr = 0.0
    return build_detector(model)


# the stock FCOS too: its caffe-style, frozen-BN ResNet
@pytest.mark.parametrize(
    'name', ODCONV + ['fcos_r50_caffe_fpn_gn-head_1x_coco']
)
def test_forward_train_backward_and_results(name):
    torch.manual_seed(0)
    model = small_model(name)
    model.train()
    batch = make_batch(shapes=((64, 96),))
    losses = model(**batch)
    family = name.split('_')[0]
    assert set(losses) == LOSS_KEYS[family]
    loss, log_vars = model._parse_losses(losses)
    for key in LOSS_KEYS[family]:
        assert np.isfinite(log_vars[key]) and log_vars[key] > 0, key
    loss.backward()
    head = model.bbox_head
    for module in (head.cls_convs[0].conv, model.neck.lateral_convs[0].conv):
        assert module.weight.grad is not None
        assert module.weight.grad.abs().sum() > 0
    if family != 'retinanet':
        assert head.scales[0].scale.grad is not None

    model.eval()
    with torch.no_grad():
        results = model(
            img=[batch['img']],
            img_metas=[batch['img_metas']],
            return_loss=False,
            rescale=True,
        )
    assert len(results) == 1 and len(results[0]) == 80
    for dets in results[0]:
        assert isinstance(dets, np.ndarray) and dets.dtype == np.float32
        assert dets.ndim == 2 and dets.shape[1] == 5
    all_dets = np.concatenate(results[0])
    assert len(all_dets) == 100  # max_per_img
    assert (all_dets[:, 4] > 0).all()
    assert (all_dets[:, [0, 2]] <= 96).all() and (all_dets[:, :4] >= 0).all()


def test_empty_gt_gives_only_a_classification_loss():
    model = small_model('atss_odconv4x_mobilenetv2_100_fpn_1x_coco')
    model.train()
    batch = make_batch(shapes=((64, 64),))
    batch['gt_bboxes'] = [torch.zeros(0, 4)]
    batch['gt_labels'] = [torch.zeros(0).long()]
    _, log_vars = model._parse_losses(model(**batch))
    assert log_vars['loss_cls'] > 0
    assert log_vars['loss_bbox'] == 0 and log_vars['loss_centerness'] == 0


def test_aug_test_is_the_heads():
    """Test-time augmentation of the dense detectors goes through the
    head's ``aug_test`` (MMDetection's API): duplicates merge to the plain
    result, a flipped view maps back into the original image."""
    torch.manual_seed(0)
    model = small_model('retinanet_odconv4x_mobilenetv2_100_fpn_1x_coco')
    model.eval()
    batch = make_batch(shapes=((64, 96),))
    img, meta = batch['img'], batch['img_metas'][0]
    flipped = dict(meta, flip=True, flip_direction='horizontal')
    with torch.no_grad():
        plain = model.simple_test(img, [meta], rescale=True)
        feats = model.extract_feats([img, img.flip(-1)])
        ((dets, labels),) = model.bbox_head.aug_test(
            feats, [[meta], [flipped]], rescale=True
        )
        through_detector = model.aug_test(
            [img, img.flip(-1)], [[meta], [flipped]], rescale=True
        )
        twice = model.aug_test([img, img], [[meta], [meta]], rescale=True)
    assert dets.shape == (100, 5) and labels.shape == (100,)
    assert (dets[:, [0, 2]] <= 96 + 1e-3).all()
    merged = bbox2result(dets, labels, 80)
    for a, b in zip(through_detector[0], merged):
        np.testing.assert_allclose(a, b)
    for a, b in zip(twice[0], plain[0]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-4)
