"""RPNHead: layout, targets and losses, proposals."""

import math

import pytest
import torch
from mmcv import ConfigDict
from torchvision.ops import nms

from mmdet.models import build_head

RPN_TRAIN_CFG = dict(
    assigner=dict(
        type='MaxIoUAssigner',
        pos_iou_thr=0.7,
        neg_iou_thr=0.3,
        min_pos_iou=0.3,
        match_low_quality=True,
        ignore_iof_thr=-1,
    ),
    sampler=dict(
        type='RandomSampler',
        num=256,
        pos_fraction=0.5,
        neg_pos_ub=-1,
        add_gt_as_proposals=False,
    ),
    allowed_border=-1,
    pos_weight=-1,
    debug=False,
)

PROPOSAL_CFG = dict(
    nms_pre=20,
    max_per_img=30,
    nms=dict(type='nms', iou_threshold=0.7),
    min_bbox_size=0,
)


def rpn_head(channels=2, train_cfg=RPN_TRAIN_CFG, test_cfg=PROPOSAL_CFG):
    head = build_head(
        dict(
            type='RPNHead',
            in_channels=channels,
            feat_channels=channels,
            anchor_generator=dict(
                type='AnchorGenerator',
                scales=[8],
                ratios=[0.5, 1.0, 2.0],
                strides=[4, 8, 16, 32, 64],
            ),
            bbox_coder=dict(
                type='DeltaXYWHBBoxCoder',
                target_means=[0.0, 0.0, 0.0, 0.0],
                target_stds=[1.0, 1.0, 1.0, 1.0],
            ),
            loss_cls=dict(
                type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0
            ),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0),
            train_cfg=train_cfg,
            test_cfg=test_cfg,
        )
    )
    head.init_weights()
    return head


def metas(num=2, size=64):
    return [
        dict(
            img_shape=(size, size, 3),
            pad_shape=(size, size, 3),
            ori_shape=(size, size, 3),
            scale_factor=torch.tensor([1.0, 1.0, 1.0, 1.0]).numpy(),
        )
        for _ in range(num)
    ]


def level_shapes(size=64):
    return [(size // s, size // s) for s in (4, 8, 16, 32, 64)]


def test_layout_matches_released_checkpoint_names():
    head = rpn_head(channels=256)
    shapes = {k: tuple(v.shape) for k, v in head.state_dict().items()}
    assert shapes == {
        'rpn_conv.weight': (256, 256, 3, 3),
        'rpn_conv.bias': (256,),
        'rpn_cls.weight': (3, 256, 1, 1),
        'rpn_cls.bias': (3,),
        'rpn_reg.weight': (12, 256, 1, 1),
        'rpn_reg.bias': (12,),
    }
    feats = [torch.randn(2, 256, h, w) for h, w in level_shapes()]
    cls_scores, bbox_preds = head(feats)
    assert [tuple(c.shape) for c in cls_scores] == [
        (2, 3, h, w) for h, w in level_shapes()
    ]
    assert [tuple(b.shape) for b in bbox_preds] == [
        (2, 12, h, w) for h, w in level_shapes()
    ]


def test_unknown_settings_are_errors():
    with pytest.raises(KeyError, match='nms_thres'):
        rpn_head(test_cfg=dict(PROPOSAL_CFG, nms_thres=0.7))
    with pytest.raises(KeyError, match='allowed_borders'):
        rpn_head(train_cfg=dict(RPN_TRAIN_CFG, allowed_borders=0))
    with pytest.raises(TypeError):
        build_head(dict(type='RPNHead', in_channels=2, feat_channel=2))


def zero_outputs(num_imgs=2, size=64, requires_grad=False):
    cls_scores = [
        torch.zeros(num_imgs, 3, h, w, requires_grad=requires_grad)
        for h, w in level_shapes(size)
    ]
    bbox_preds = [
        torch.zeros(num_imgs, 12, h, w, requires_grad=requires_grad)
        for h, w in level_shapes(size)
    ]
    return cls_scores, bbox_preds


def test_targets_label_rpn_positives_as_class_zero():
    head = rpn_head()
    gt_bboxes = [torch.tensor([[8.0, 8.0, 40.0, 40.0]]), torch.zeros(0, 4)]
    sizes = level_shapes()
    anchors, flags = head.get_anchors(sizes, metas(), device='cpu')
    labels, label_weights, bbox_targets, bbox_weights, num_pos, num_neg = (
        head.get_targets(anchors, flags, gt_bboxes, metas())
    )
    assert len(labels) == 5
    labels = torch.cat(labels, 1)
    label_weights = torch.cat(label_weights, 1)
    bbox_weights = torch.cat(bbox_weights, 1)
    assert set(labels.unique().tolist()) <= {0, 1}
    assert (labels[0] == 0).sum() > 0 and (labels[1] == 0).sum() == 0
    # positives have box weights, and 256 anchors at most are sampled
    assert torch.equal(bbox_weights[..., 0] > 0, labels == 0)
    assert (label_weights > 0).sum(1).tolist() == [256, 256]
    # an image without positives still counts 1 (MMDetection 2.x)
    assert num_pos == int((labels[0] == 0).sum()) + 1
    assert num_pos + num_neg == 256 * 2 + 1


def test_loss_values_for_zero_predictions():
    head = rpn_head()
    cls_scores, bbox_preds = zero_outputs(requires_grad=True)
    gt_bboxes = [torch.tensor([[8.0, 8.0, 40.0, 40.0]]), torch.zeros(0, 4)]
    per_level = head.loss(cls_scores, bbox_preds, gt_bboxes, metas())
    assert set(per_level) == {'loss_rpn_cls', 'loss_rpn_bbox'}
    # one loss per FPN level, as MMDetection 2.x returns them
    assert all(len(v) == len(cls_scores) for v in per_level.values())
    losses = {k: sum(v) for k, v in per_level.items()}
    # every sampled anchor (256 per image) has logit 0: BCE log(2) each,
    # averaged over the samples, where an image without positives counts
    # one more (MMDetection 2.x's max(num_pos, 1))
    assert losses['loss_rpn_cls'].item() == pytest.approx(
        math.log(2) * 512 / 513, rel=1e-5
    )
    assert losses['loss_rpn_bbox'].item() > 0
    sum(losses.values()).backward()
    assert all(c.grad is not None for c in cls_scores)
    # no gt in any image: no box loss
    empty = {
        k: sum(v)
        for k, v in head.loss(
            cls_scores,
            bbox_preds,
            [torch.zeros(0, 4), torch.zeros(0, 4)],
            metas(),
        ).items()
    }
    assert empty['loss_rpn_bbox'].item() == 0
    assert empty['loss_rpn_cls'].item() == pytest.approx(
        math.log(2) * 512 / 514, rel=1e-5
    )


def reference_proposals(head, cls_scores, img_id, cfg):
    """Proposals computed the plain way for zero deltas: per level top
    ``nms_pre`` anchors (clipped to 64x64), drop empty boxes, NMS per
    level, merge by score, keep ``max_per_img``."""
    anchors = head.prior_generator.grid_priors(level_shapes(), device='cpu')
    boxes, scores = [], []
    for level, (score_map, level_anchors) in enumerate(
        zip(cls_scores, anchors)
    ):
        s = score_map[img_id].permute(1, 2, 0).reshape(-1).sigmoid()
        s, order = s.sort(descending=True)
        s, b = s[: cfg['nms_pre']], level_anchors[order[: cfg['nms_pre']]]
        b = b.clamp(min=0, max=64)
        keep = ((b[:, 2] - b[:, 0]) > 0) & ((b[:, 3] - b[:, 1]) > 0)
        b, s = b[keep], s[keep]
        kept = nms(b, s, cfg['nms']['iou_threshold'])
        boxes.append(b[kept])
        scores.append(s[kept])
    boxes, scores = torch.cat(boxes), torch.cat(scores)
    order = scores.argsort(descending=True)[: cfg['max_per_img']]
    return torch.cat([boxes[order], scores[order, None]], 1)


def test_proposals_match_a_per_level_reference():
    torch.manual_seed(0)
    head = rpn_head()
    cls_scores, bbox_preds = zero_outputs()
    cls_scores = [torch.randn_like(c) for c in cls_scores]
    proposals = head.get_bboxes(cls_scores, bbox_preds, img_metas=metas())
    assert len(proposals) == 2
    for img_id, props in enumerate(proposals):
        expected = reference_proposals(head, cls_scores, img_id, PROPOSAL_CFG)
        assert props.shape == expected.shape == (30, 5)
        assert torch.allclose(props, expected, atol=1e-5)


def test_proposals_keep_levels_apart_and_drop_empty_boxes():
    head = rpn_head()
    cls_scores, bbox_preds = zero_outputs(num_imgs=1)
    for c in cls_scores:
        c.fill_(-5.0)
    # ratio-1 anchors (channel 1) centred at (8, 8): level 0 at cell
    # (2, 2) has size 32, doubled by its deltas; level 1 at cell (1, 1) has
    # size 64: the same box, [0, 0, 40, 40] once clipped
    cls_scores[0][0, 1, 2, 2] = 5.0
    bbox_preds[0][0, 6:8, 2, 2] = math.log(2.0)
    cls_scores[1][0, 1, 1, 1] = 4.0
    # the best-scoring box is moved out of the image: clipped to width 0
    cls_scores[0][0, 1, 8, 8] = 6.0
    bbox_preds[0][0, 4, 8, 8] = 3.0
    cfg = dict(PROPOSAL_CFG, max_per_img=1000)
    (props,) = head.get_bboxes(
        cls_scores, bbox_preds, img_metas=metas(1), cfg=cfg
    )
    widths = props[:, 2] - props[:, 0]
    assert (widths > 0).all()
    assert torch.allclose(
        props[:2, :4], torch.tensor([[0.0, 0.0, 40.0, 40.0]])
    )
    assert props[:2, 4].tolist() == pytest.approx(
        [
            torch.sigmoid(torch.tensor(5.0)).item(),
            torch.sigmoid(torch.tensor(4.0)).item(),
        ]
    )
    assert (props[:, 4][:-1] >= props[:, 4][1:]).all()
    # across levels, one NMS for everything removes the duplicate
    (merged,) = head.get_bboxes(
        cls_scores,
        bbox_preds,
        img_metas=metas(1),
        cfg=dict(cfg, nms_across_levels=True),
    )
    dup = (merged[:, :4] == torch.tensor([0.0, 0.0, 40.0, 40.0])).all(1)
    assert dup.sum() == 1


def test_deprecated_proposal_keys_are_translated():
    head = rpn_head()
    torch.manual_seed(1)
    cls_scores, bbox_preds = zero_outputs()
    cls_scores = [torch.randn_like(c) for c in cls_scores]
    old_cfg = dict(
        nms_pre=20, nms_post=20, max_num=7, nms_thr=0.7, min_bbox_size=0
    )
    with pytest.warns(UserWarning):
        old = head.get_bboxes(
            cls_scores, bbox_preds, img_metas=metas(), cfg=old_cfg
        )
    new = head.get_bboxes(
        cls_scores,
        bbox_preds,
        img_metas=metas(),
        cfg=dict(PROPOSAL_CFG, max_per_img=7),
    )
    assert all(torch.equal(a, b) for a, b in zip(old, new))
    assert old[0].shape == (7, 5)


def test_forward_train_returns_losses_and_detached_proposals():
    head = rpn_head()
    feats = [torch.randn(2, 2, h, w) for h, w in level_shapes()]
    gt_bboxes = [
        torch.tensor([[8.0, 8.0, 40.0, 40.0]]),
        torch.tensor([[30.0, 10.0, 60.0, 50.0]]),
    ]
    losses, proposals = head.forward_train(
        feats, metas(), gt_bboxes, proposal_cfg=ConfigDict(PROPOSAL_CFG)
    )
    assert set(losses) == {'loss_rpn_cls', 'loss_rpn_bbox'}
    assert all(torch.isfinite(loss) for v in losses.values() for loss in v)
    assert len(proposals) == 2 and proposals[0].shape[1] == 5
    assert not proposals[0].requires_grad
    assert (
        head.forward_train(feats, metas(), gt_bboxes).keys() == losses.keys()
    )
    tested = head.simple_test_rpn(feats, metas())
    assert len(tested) == 2 and tested[0].size(0) <= 30


@pytest.mark.parametrize('use_sigmoid', [True, False])
def test_anchor_head_base_class(use_sigmoid):
    head = build_head(
        dict(
            type='AnchorHead',
            num_classes=2,
            in_channels=2,
            anchor_generator=dict(
                type='AnchorGenerator',
                scales=[8],
                ratios=[1.0],
                strides=[4, 8, 16, 32, 64],
            ),
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=use_sigmoid),
            train_cfg=RPN_TRAIN_CFG,
            test_cfg=dict(
                nms_pre=50,
                score_thr=0.0,
                nms=dict(type='nms', iou_threshold=0.5),
                max_per_img=8,
            ),
        )
    )
    cls_channels = 2 if use_sigmoid else 3
    assert head.conv_cls.out_channels == cls_channels
    assert head.conv_reg.out_channels == 4
    feats = [torch.randn(2, 2, h, w) for h, w in level_shapes()]
    gt_bboxes = [
        torch.tensor([[8.0, 8.0, 40.0, 40.0]]),
        torch.tensor([[20.0, 10.0, 60.0, 50.0]]),
    ]
    gt_labels = [torch.tensor([1]), torch.tensor([0])]
    losses = head.forward_train(feats, metas(), gt_bboxes, gt_labels)
    assert set(losses) == {'loss_cls', 'loss_bbox'}
    assert all(len(v) == 5 for v in losses.values())
    assert all(torch.isfinite(loss) for v in losses.values() for loss in v)
    results = head.simple_test(feats, metas())
    assert len(results) == 2
    for dets, labels in results:
        assert dets.shape == (8, 5) and labels.shape == (8,)
        assert ((labels >= 0) & (labels < 2)).all()
        assert (dets[:, [0, 2]] <= 64).all() and (dets[:, :4] >= 0).all()
