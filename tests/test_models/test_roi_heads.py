"""RoI heads: RoI feature extraction, box head, mask head, StandardRoIHead."""

import json
import os.path as osp
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmcv import ConfigDict

from mmdet.core import BitmapMasks, paste_masks
from mmdet.models import build_head, build_roi_extractor
from mmdet.models.roi_heads.roi_extractors import RoIAlign

NUMERICS = osp.join(
    osp.dirname(osp.dirname(__file__)), 'data', 'reference', 'numerics.json'
)


@pytest.fixture(scope='module')
def numerics():
    with open(NUMERICS) as f:
        return json.load(f)


def extractor(output_size=7, channels=2):
    return build_roi_extractor(
        dict(
            type='SingleRoIExtractor',
            roi_layer=dict(
                type='RoIAlign', output_size=output_size, sampling_ratio=0
            ),
            out_channels=channels,
            featmap_strides=[4, 8, 16, 32],
        )
    )


# ---------------------------------------------------------------- RoI align
def test_roi_levels_match_reference(numerics):
    ref = numerics['roi_levels']
    levels = extractor().map_roi_levels(torch.tensor(ref['rois']), 4)
    assert levels.dtype == torch.long
    assert levels.tolist() == ref['levels']


def test_roi_align_is_pixel_aligned():
    # a ramp f[y, x] = x: bilinear sampling is exact, so each bin averages
    # to its centre in feature coordinates, which are input / stride - 0.5
    ramp = torch.arange(16.0).repeat(1, 1, 16, 1)
    layer = RoIAlign(output_size=2, spatial_scale=0.5, sampling_ratio=0)
    rois = torch.tensor([[0.0, 4.0, 4.0, 20.0, 20.0]])
    out = layer(ramp, rois)
    assert out.shape == (1, 1, 2, 2)
    # bins centred at x = 8 and 16 input pixels -> 4 - 0.5, 8 - 0.5
    assert torch.allclose(out[0, 0, 0], torch.tensor([3.5, 7.5]))
    with pytest.raises(ValueError):
        RoIAlign(7, pool_mode='max')


def test_single_roi_extractor_reads_the_mapped_level_and_image(numerics):
    rois = torch.tensor(numerics['roi_levels']['rois'])
    expected = torch.tensor(numerics['roi_levels']['levels'])
    rois = torch.cat([rois, rois + torch.tensor([1.0, 0, 0, 0, 0])])
    expected = torch.cat([expected, expected])
    # level l of image b is the constant 10 * b + l + 1
    feats = [
        torch.stack(
            [
                torch.full((2, 1024 // s, 1024 // s), 10.0 * b + lvl + 1)
                for b in range(2)
            ]
        )
        for lvl, s in enumerate([4, 8, 16, 32])
    ]
    roi_ext = extractor(output_size=3)
    out = roi_ext(feats, rois)
    assert out.shape == (12, 2, 3, 3)
    batch = rois[:, 0]
    want = 10.0 * batch + expected.float() + 1
    # the box [3, 3, 4, 4] is inside the map: all samples valid
    assert torch.allclose(out.mean(dim=(1, 2, 3)), want)
    assert roi_ext.num_inputs == 4
    assert [layer.spatial_scale for layer in roi_ext.roi_layers] == [
        1 / 4,
        1 / 8,
        1 / 16,
        1 / 32,
    ]


def test_roi_extractor_unknown_layer_is_an_error():
    with pytest.raises(KeyError, match='RoIAlign'):
        build_roi_extractor(
            dict(
                type='SingleRoIExtractor',
                roi_layer=dict(type='RoIPool', output_size=7),
                out_channels=2,
                featmap_strides=[4],
            )
        )


# ------------------------------------------------------------- mask pasting
def test_paste_mask_matches_reference(numerics):
    ref = numerics['paste_mask']
    mask = torch.tensor(ref['mask'])[None, None]
    box = torch.tensor([ref['box']])
    out, region = paste_masks(mask, box, 12, 12, skip_empty=False)
    assert region == ()
    np.testing.assert_allclose(out[0].numpy(), np.array(ref['out']), atol=1e-4)
    # the cropped computation gives the same numbers in its region
    crop, region = paste_masks(mask, box, 12, 12, skip_empty=True)
    np.testing.assert_allclose(
        crop[0].numpy(), out[0][region].numpy(), atol=1e-6
    )


# ---------------------------------------------------------------- box head
def small_bbox_head(**kwargs):
    cfg = dict(
        type='Shared2FCBBoxHead',
        in_channels=4,
        fc_out_channels=8,
        roi_feat_size=2,
        num_classes=3,
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[0.0, 0.0, 0.0, 0.0],
            target_stds=[0.1, 0.1, 0.2, 0.2],
        ),
        reg_class_agnostic=False,
        loss_cls=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0
        ),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0),
    )
    cfg.update(kwargs)
    return build_head(cfg)


def test_shared2fc_bbox_head_layout():
    head = small_bbox_head()
    shapes = {k: tuple(v.shape) for k, v in head.state_dict().items()}
    assert shapes == {
        'fc_cls.weight': (4, 8),
        'fc_cls.bias': (4,),
        'fc_reg.weight': (12, 8),
        'fc_reg.bias': (12,),
        'shared_fcs.0.weight': (8, 16),
        'shared_fcs.0.bias': (8,),
        'shared_fcs.1.weight': (8, 8),
        'shared_fcs.1.bias': (8,),
    }
    cls_score, bbox_pred = head(torch.randn(5, 4, 2, 2))
    assert cls_score.shape == (5, 4) and bbox_pred.shape == (5, 12)
    with pytest.raises(TypeError):
        small_bbox_head(fc_out_channel=8)


def test_bbox_head_targets_background_last(numerics):
    coder_ref = numerics['delta_xywh_coder']
    head = small_bbox_head()
    prop = torch.tensor(coder_ref['proposals'][:1])
    gt = torch.tensor(coder_ref['gt'][:1])
    res0 = SimpleNamespace(
        pos_bboxes=torch.cat([prop, gt]),
        pos_gt_bboxes=torch.cat([gt, gt]),
        pos_gt_labels=torch.tensor([2, 0]),
        neg_bboxes=torch.tensor([[0.0, 0.0, 5.0, 5.0]]),
    )
    res1 = SimpleNamespace(
        pos_bboxes=torch.zeros(0, 4),
        pos_gt_bboxes=torch.zeros(0, 4),
        pos_gt_labels=torch.zeros(0, dtype=torch.long),
        neg_bboxes=torch.tensor([[1.0, 1.0, 5.0, 5.0], [2.0, 2.0, 6.0, 6.0]]),
    )
    labels, label_weights, bbox_targets, bbox_weights = head.get_targets(
        [res0, res1], None, None, ConfigDict(pos_weight=-1)
    )
    assert labels.tolist() == [2, 0, 3, 3, 3]
    assert label_weights.tolist() == [1.0] * 5
    np.testing.assert_allclose(
        bbox_targets[0].numpy(), coder_ref['encode'][0], atol=1e-4
    )
    assert bbox_targets[1:].abs().max() < 1e-6
    assert bbox_weights.sum(1).tolist() == [4.0, 4.0, 0.0, 0.0, 0.0]
    per_image = head.get_targets(
        [res0, res1], None, None, ConfigDict(pos_weight=2.0), concat=False
    )
    assert [t.tolist() for t in per_image[0]] == [[2, 0, 3], [3, 3]]
    assert per_image[1][0].tolist() == [2.0, 2.0, 1.0]


def test_bbox_head_loss_is_class_specific_and_averaged_over_all_rois():
    torch.manual_seed(0)
    head = small_bbox_head()
    cls_score = torch.randn(3, 4)
    bbox_pred = torch.randn(3, 12)
    labels = torch.tensor([1, 3, 0])
    bbox_targets = torch.randn(3, 4)
    bbox_weights = torch.tensor([[1.0] * 4, [0.0] * 4, [1.0] * 4])
    losses = head.loss(
        cls_score,
        bbox_pred,
        None,
        labels,
        torch.ones(3),
        bbox_targets,
        bbox_weights,
    )
    assert set(losses) == {'loss_cls', 'acc', 'loss_bbox'}
    assert torch.allclose(
        losses['loss_cls'], F.cross_entropy(cls_score, labels)
    )
    expected_bbox = (
        (bbox_pred[0, 4:8] - bbox_targets[0]).abs().sum()
        + (bbox_pred[2, 0:4] - bbox_targets[2]).abs().sum()
    ) / 3
    assert torch.allclose(losses['loss_bbox'], expected_bbox)
    expected_acc = 100.0 * (cls_score.argmax(1) == labels).float().mean()
    assert torch.allclose(losses['acc'], expected_acc)
    # only background: a zero box loss that still has a graph
    bbox_pred.requires_grad_(True)
    bg = head.loss(
        cls_score,
        bbox_pred,
        None,
        torch.full((3,), 3),
        torch.ones(3),
        bbox_targets,
        bbox_weights,
    )
    assert bg['loss_bbox'].item() == 0 and bg['loss_bbox'].requires_grad


def test_bbox_head_get_bboxes_softmax_decode_clip_rescale():
    head = small_bbox_head()
    rois = torch.tensor(
        [[0.0, 10.0, 20.0, 30.0, 60.0], [0.0, 50.0, 10.0, 130.0, 40.0]]
    )
    # RoI 0 is class 1, RoI 1 class 2 (but reaches outside the image)
    cls_score = torch.tensor([[0.0, 3.0, 0.0, 0.0], [0.0, 0.0, 4.0, 0.0]])
    bbox_pred = torch.zeros(2, 12)
    cfg = ConfigDict(
        score_thr=0.05,
        nms=dict(type='nms', iou_threshold=0.5),
        max_per_img=100,
    )
    det_bboxes, det_labels = head.get_bboxes(
        rois,
        cls_score,
        bbox_pred,
        img_shape=(100, 120, 3),
        scale_factor=np.array([2.0, 2.0, 2.0, 2.0], dtype=np.float32),
        rescale=True,
        cfg=cfg,
    )
    p0 = np.exp(3.0) / (3 + np.exp(3.0))
    p1 = np.exp(4.0) / (3 + np.exp(4.0))
    # sorted by score; the other classes (score 1 / (3 + e^3) = 0.043 and
    # below) are under score_thr
    assert det_labels.tolist() == [2, 1]
    np.testing.assert_allclose(
        det_bboxes.numpy(),
        [[25.0, 5.0, 60.0, 20.0, p1], [5.0, 10.0, 15.0, 30.0, p0]],
        rtol=1e-5,
    )
    bboxes, scores = head.get_bboxes(
        rois, cls_score, bbox_pred, (100, 120, 3), 1.0, cfg=None
    )
    assert bboxes.shape == (2, 12) and scores.shape == (2, 4)
    assert torch.allclose(scores.sum(1), torch.ones(2))


# --------------------------------------------------------------- mask head
def small_mask_head():
    return build_head(
        dict(
            type='FCNMaskHead',
            num_convs=2,
            in_channels=4,
            conv_out_channels=4,
            num_classes=3,
            loss_mask=dict(
                type='CrossEntropyLoss', use_mask=True, loss_weight=1.0
            ),
        )
    )


def test_fcn_mask_head_layout_and_loss():
    head = small_mask_head()
    keys = set(head.state_dict())
    assert {
        'convs.0.conv.weight',
        'convs.1.conv.bias',
        'upsample.weight',
        'upsample.bias',
        'conv_logits.weight',
    } <= keys
    x = torch.randn(2, 4, 14, 14)
    pred = head(x)
    assert pred.shape == (2, 3, 28, 28)
    # the transposed conv is followed by a ReLU: no negative input to
    # conv_logits means pred >= bias when weights are positive
    with torch.no_grad():
        head.conv_logits.weight.fill_(1.0)
        head.conv_logits.bias.zero_()
    assert (head(x) >= 0).all()

    targets = (torch.rand(2, 28, 28) > 0.5).float()
    labels = torch.tensor([2, 1])
    loss = head.loss(pred, targets, labels)['loss_mask']
    expected = F.binary_cross_entropy_with_logits(
        torch.stack([pred[0, 2], pred[1, 1]]), targets
    )
    assert torch.allclose(loss, expected)
    assert head.loss(pred[:0], targets[:0], labels[:0])['loss_mask'] == 0


@pytest.mark.parametrize('rescale', [True, False])
def test_get_seg_masks_pastes_into_the_image(rescale):
    head = small_mask_head()
    # a confident all-foreground mask for class 1, background elsewhere
    mask_pred = torch.full((1, 3, 28, 28), -10.0)
    mask_pred[0, 1] = 10.0
    det_bboxes = torch.tensor([[4.0, 4.0, 20.0, 20.0, 0.9]])  # input pixels
    segms = head.get_seg_masks(
        mask_pred,
        det_bboxes,
        torch.tensor([1]),
        ConfigDict(mask_thr_binary=0.5),
        ori_shape=(16, 16, 3),
        scale_factor=np.array([2.0, 2.0, 2.0, 2.0], dtype=np.float32),
        rescale=rescale,
    )
    assert len(segms) == 3 and segms[0] == [] and segms[2] == []
    (mask,) = segms[1]
    size, lo, hi = (16, 2, 10) if rescale else (32, 4, 20)
    expected = np.zeros((size, size), dtype=bool)
    expected[lo:hi, lo:hi] = True
    assert mask.dtype == bool
    np.testing.assert_array_equal(mask, expected)


# --------------------------------------------------------- StandardRoIHead
def standard_roi_head(with_mask=True, channels=8, num_classes=3):
    rcnn_train = dict(
        assigner=dict(
            type='MaxIoUAssigner',
            pos_iou_thr=0.5,
            neg_iou_thr=0.5,
            min_pos_iou=0.5,
            match_low_quality=True,
            ignore_iof_thr=-1,
        ),
        sampler=dict(
            type='RandomSampler',
            num=32,
            pos_fraction=0.25,
            neg_pos_ub=-1,
            add_gt_as_proposals=True,
        ),
        mask_size=28,
        pos_weight=-1,
        debug=False,
    )
    rcnn_test = dict(
        score_thr=0.0,
        nms=dict(type='nms', iou_threshold=0.5),
        max_per_img=5,
        mask_thr_binary=0.5,
    )
    cfg = dict(
        type='StandardRoIHead',
        bbox_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
            out_channels=channels,
            featmap_strides=[4, 8, 16, 32],
        ),
        bbox_head=dict(
            type='Shared2FCBBoxHead',
            in_channels=channels,
            fc_out_channels=16,
            roi_feat_size=7,
            num_classes=num_classes,
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder',
                target_means=[0.0, 0.0, 0.0, 0.0],
                target_stds=[0.1, 0.1, 0.2, 0.2],
            ),
            reg_class_agnostic=False,
            loss_cls=dict(
                type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0
            ),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0),
        ),
        train_cfg=rcnn_train,
        test_cfg=rcnn_test,
    )
    if with_mask:
        cfg.update(
            mask_roi_extractor=dict(
                type='SingleRoIExtractor',
                roi_layer=dict(
                    type='RoIAlign', output_size=14, sampling_ratio=0
                ),
                out_channels=channels,
                featmap_strides=[4, 8, 16, 32],
            ),
            mask_head=dict(
                type='FCNMaskHead',
                num_convs=1,
                in_channels=channels,
                conv_out_channels=channels,
                num_classes=num_classes,
                loss_mask=dict(
                    type='CrossEntropyLoss', use_mask=True, loss_weight=1.0
                ),
            ),
        )
    head = build_head(cfg)
    head.init_weights()
    return head


def roi_inputs(channels=8, size=64):
    torch.manual_seed(0)
    feats = tuple(
        torch.randn(2, channels, size // s, size // s)
        for s in (4, 8, 16, 32, 64)
    )
    metas = [
        dict(
            img_shape=(size, size, 3),
            ori_shape=(size, size, 3),
            pad_shape=(size, size, 3),
            scale_factor=np.ones(4, dtype=np.float32),
        )
    ] * 2
    gt_bboxes = [
        torch.tensor([[4.0, 4.0, 40.0, 36.0]]),
        torch.tensor([[10.0, 20.0, 60.0, 60.0], [0.0, 0.0, 16.0, 16.0]]),
    ]
    gt_labels = [torch.tensor([2]), torch.tensor([0, 1])]
    proposals = [
        torch.cat([b + torch.randn(20, 4) * 3, torch.rand(20, 1)], 1)
        for b in (gt_bboxes[0].repeat(20, 1), gt_bboxes[1].repeat(10, 1))
    ]
    return feats, metas, gt_bboxes, gt_labels, proposals


def test_standard_roi_head_builds_and_rejects_unknown_settings():
    head = standard_roi_head()
    assert head.with_bbox and head.with_mask and not head.with_shared_head
    assert not head.share_roi_extractor
    with pytest.raises(KeyError, match='score_thres'):
        build_head(
            dict(type='StandardRoIHead', test_cfg=dict(score_thres=0.05))
        )


def test_standard_roi_head_forward_train_losses_and_gradients():
    head = standard_roi_head()
    feats, metas, gt_bboxes, gt_labels, proposals = roi_inputs()
    feats = tuple(f.requires_grad_(True) for f in feats)
    gt_masks = [
        BitmapMasks(np.ones((len(b), 64, 64), dtype=np.uint8), 64, 64)
        for b in gt_bboxes
    ]
    seen = {}
    mask_loss = head.mask_head.loss

    def recording_loss(mask_pred, mask_targets, labels):
        seen.update(pred=mask_pred, targets=mask_targets, labels=labels)
        return mask_loss(mask_pred, mask_targets, labels)

    head.mask_head.loss = recording_loss
    losses = head.forward_train(
        feats, metas, proposals, gt_bboxes, gt_labels, gt_masks=gt_masks
    )
    assert set(losses) == {'loss_cls', 'acc', 'loss_bbox', 'loss_mask'}
    assert all(torch.isfinite(v).all() for v in losses.values())
    # all-ones gt masks: every mask target is foreground, so the mask loss
    # is the BCE of each positive RoI's own-class logits against 1
    targets = seen['targets']
    assert targets.shape[0] > 0 and targets.shape[1:] == (28, 28)
    assert (targets == 1).all()
    own_class = seen['pred'][torch.arange(len(targets)), seen['labels']]
    torch.testing.assert_close(
        losses['loss_mask'].reshape(()),
        F.binary_cross_entropy_with_logits(
            own_class, torch.ones_like(own_class)
        ),
    )
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert all(p.grad is not None for p in head.parameters())
    # the unused 5th level gets no gradient, the RoI levels do
    assert feats[0].grad is not None and feats[4].grad is None


def test_standard_roi_head_simple_test_format():
    head = standard_roi_head()
    head.eval()
    feats, metas, _, _, _ = roi_inputs()
    # a 5 x 5 grid of disjoint 10 x 10 boxes per image
    corners = torch.stack(
        torch.meshgrid(
            torch.arange(5.0) * 12, torch.arange(5.0) * 12, indexing='ij'
        ),
        -1,
    ).reshape(-1, 2)
    grid = torch.cat([corners, corners + 10, torch.ones(25, 1)], 1)
    with torch.no_grad():
        results = head.simple_test(feats, [grid, grid], metas, rescale=True)
    assert len(results) == 2
    for bbox_result, segm_result in results:
        assert len(bbox_result) == len(segm_result) == 3
        assert sum(len(b) for b in bbox_result) == 5  # max_per_img
        for boxes, masks in zip(bbox_result, segm_result):
            assert boxes.shape[1] == 5 and len(masks) == len(boxes)
            assert all(m.shape == (64, 64) for m in masks)
    # no proposals at all: empty results of the right structure
    empty = [torch.zeros(0, 5), torch.zeros(0, 5)]
    with torch.no_grad():
        results = head.simple_test(feats, empty, metas)
    assert all(len(b) == 0 for b in results[0][0])
    assert results[1][1] == [[], [], []]


def test_bbox_head_regress_and_refine_for_cascades():
    head = small_bbox_head()
    rois = torch.tensor(
        [
            [0.0, 10.0, 10.0, 30.0, 30.0],
            [0.0, 0.0, 0.0, 20.0, 40.0],
            [1.0, 5.0, 5.0, 15.0, 25.0],
        ]
    )
    deltas = torch.zeros(3, 12)
    deltas[0, 4:6] = 1.0  # class 1 moves RoI 0 by one std (0.1 * 20 px)
    labels = torch.tensor([1, 3, 0])  # RoI 1 is background
    meta = dict(img_shape=(100, 100, 3))
    moved = head.regress_by_class(rois, labels, deltas, meta)
    assert torch.allclose(
        moved[0], torch.tensor([0.0, 12.0, 12.0, 32.0, 32.0])
    )
    assert torch.allclose(moved[1:], rois[1:])
    assert torch.allclose(
        head.regress_by_class(rois[:, 1:], labels, deltas, meta), moved[:, 1:]
    )
    # per image, without the gt boxes the sampler put first
    refined = head.refine_bboxes(
        rois,
        labels,
        deltas,
        [torch.tensor([1, 0]), torch.tensor([0])],
        [meta, meta],
    )
    assert len(refined) == 2
    assert torch.allclose(refined[0], rois[1:2, 1:])
    assert torch.allclose(refined[1], rois[2:, 1:])
