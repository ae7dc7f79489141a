"""SCNet: the whole test path (RPN, three box stages with semantic and
global context features, relayed mask features) against MMDetection
2.28.2 on the same seeded model and image
(``tests/data/reference/scnet_mmdet228.json``), the residual block's
formula, and the global context loss."""

import os.path as osp

import torch
import torch.nn.functional as F
from seeded_detector import assert_matches, load, run_simple_test

from mmdet.models.builder import build_head
from mmdet.models.utils import SimplifiedBasicBlock

REF = osp.join(
    osp.dirname(osp.dirname(__file__)),
    'data',
    'reference',
    'scnet_mmdet228.json',
)


def test_scnet_simple_test_matches_mmdetection():
    ref = load(REF)
    assert_matches(run_simple_test(ref), ref)


def test_simplified_basic_block_has_no_final_relu():
    torch.manual_seed(0)
    block = SimplifiedBasicBlock(4, 4, norm_cfg=None)
    x = torch.randn(1, 4, 5, 5)
    mid = F.relu(block.conv1(x))
    want = block.conv2(mid) + x
    assert torch.allclose(block(x), want)
    assert block.conv1.bias is not None and block.norm1 is None


def test_global_context_loss_is_multilabel_bce():
    head = build_head(
        dict(
            type='GlobalContextHead',
            num_convs=2,
            in_channels=4,
            conv_out_channels=4,
            num_classes=3,
            loss_weight=3.0,
        )
    )
    pred = torch.tensor([[0.5, -1.0, 2.0], [0.0, 0.0, 0.0]])
    labels = [torch.tensor([2, 2, 0]), torch.tensor([1])]
    target = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    want = 3.0 * F.binary_cross_entropy_with_logits(pred, target)
    assert torch.allclose(head.loss(pred, labels), want)


def test_feature_relay_head_shape():
    head = build_head(
        dict(
            type='FeatureRelayHead',
            in_channels=8,
            out_conv_channels=2,
            roi_feat_size=3,
        )
    )
    assert head(torch.randn(4, 8)).shape == (4, 2, 6, 6)
    assert head(torch.randn(0, 8)) is None


def test_scnet_trains_a_step():
    """The seeded tiny SCNet with a cascade train_cfg: its losses are
    finite."""
    from mmcv import Config

    from mmdet.core import BitmapMasks
    from mmdet.models import build_detector

    ref = load(REF)
    stage = dict(
        assigner=dict(
            type='MaxIoUAssigner',
            pos_iou_thr=0.5,
            neg_iou_thr=0.5,
            min_pos_iou=0.5,
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
    rpn = dict(
        assigner=dict(
            type='MaxIoUAssigner',
            pos_iou_thr=0.7,
            neg_iou_thr=0.3,
            min_pos_iou=0.3,
            ignore_iof_thr=-1,
        ),
        sampler=dict(
            type='RandomSampler',
            num=64,
            pos_fraction=0.5,
            neg_pos_ub=-1,
            add_gt_as_proposals=False,
        ),
        allowed_border=0,
        pos_weight=-1,
        debug=False,
    )
    model_cfg = dict(
        ref['model'],
        train_cfg=dict(
            rpn=rpn,
            rpn_proposal=dict(
                nms_pre=200,
                max_per_img=50,
                nms=dict(type='nms', iou_threshold=0.7),
                min_bbox_size=0,
            ),
            rcnn=[stage, stage, stage],
        ),
    )
    torch.manual_seed(0)
    model = build_detector(Config(dict(model=model_cfg)).model)
    img = torch.randn(1, 3, 64, 80)
    meta = dict(img_shape=(64, 80, 3), pad_shape=(64, 80, 3), flip=False)
    masks = torch.zeros(1, 64, 80, dtype=torch.uint8)
    masks[0, 10:40, 20:60] = 1
    losses = model.forward_train(
        img,
        [meta],
        [torch.tensor([[20.0, 10.0, 60.0, 40.0]])],
        [torch.tensor([1])],
        gt_masks=[BitmapMasks(masks.numpy(), 64, 80)],
        gt_semantic_seg=torch.randint(0, 7, (1, 1, 8, 10)),
    )
    for key in (
        'loss_semantic_seg',
        'loss_glbctx',
        's2.loss_cls',
        'loss_mask',
    ):
        assert torch.isfinite(losses[key]).all(), key
