"""Tiny seeded cases of the FoveaBox, PAA, FreeAnchor, FSAF, NAS-FCOS and
LAD heads, shared by the tests and by the script that computed their
MMDetection 2.28.2 numbers (tests/data/reference/dense_families_mmdet228.json).
Torch and mmcv only, so that the same module builds the inputs in both
environments."""

import numpy as np
import torch
from mmcv import ConfigDict

IMG = 64
NUM_CLASSES = 3

_TEST_CFG = dict(
    nms_pre=40,
    min_bbox_size=0,
    score_thr=0.05,
    nms=dict(type='nms', iou_threshold=0.5),
    max_per_img=15,
)
_GN = dict(type='GN', num_groups=2, requires_grad=True)

FOVEA = dict(
    type='FoveaHead',
    num_classes=NUM_CLASSES,
    in_channels=8,
    feat_channels=8,
    stacked_convs=2,
    strides=[8, 16],
    base_edge_list=[16, 32],
    scale_ranges=((1, 32), (16, 128)),
    sigma=0.4,
    loss_cls=dict(
        type='FocalLoss',
        use_sigmoid=True,
        gamma=1.5,
        alpha=0.4,
        loss_weight=1.0,
    ),
    loss_bbox=dict(type='SmoothL1Loss', beta=0.11, loss_weight=1.0),
    train_cfg=dict(),
    test_cfg=_TEST_CFG,
)
FOVEA_ALIGN = dict(FOVEA, with_deform=True, deform_groups=2, norm_cfg=_GN)

PAA = dict(
    type='PAAHead',
    reg_decoded_bbox=True,
    score_voting=True,
    topk=3,
    num_classes=NUM_CLASSES,
    in_channels=8,
    feat_channels=8,
    stacked_convs=2,
    norm_cfg=_GN,
    anchor_generator=dict(
        type='AnchorGenerator',
        ratios=[1.0],
        octave_base_scale=4,
        scales_per_octave=1,
        strides=[8, 16],
    ),
    bbox_coder=dict(
        type='DeltaXYWHBBoxCoder',
        target_means=[0.0, 0.0, 0.0, 0.0],
        target_stds=[0.1, 0.1, 0.2, 0.2],
    ),
    loss_cls=dict(
        type='FocalLoss',
        use_sigmoid=True,
        gamma=2.0,
        alpha=0.25,
        loss_weight=1.0,
    ),
    loss_bbox=dict(type='GIoULoss', loss_weight=1.3),
    loss_centerness=dict(
        type='CrossEntropyLoss', use_sigmoid=True, loss_weight=0.5
    ),
    train_cfg=dict(
        assigner=dict(
            type='MaxIoUAssigner',
            pos_iou_thr=0.1,
            neg_iou_thr=0.1,
            min_pos_iou=0,
            ignore_iof_thr=-1,
        ),
        allowed_border=-1,
        pos_weight=-1,
        debug=False,
    ),
    test_cfg=dict(_TEST_CFG, nms=dict(type='nms', iou_threshold=0.6)),
)

FREE_ANCHOR = dict(
    type='FreeAnchorRetinaHead',
    num_classes=NUM_CLASSES,
    in_channels=8,
    feat_channels=8,
    stacked_convs=2,
    pre_anchor_topk=12,
    anchor_generator=dict(
        type='AnchorGenerator',
        octave_base_scale=4,
        scales_per_octave=3,
        ratios=[0.5, 1.0, 2.0],
        strides=[8, 16],
    ),
    bbox_coder=dict(
        type='DeltaXYWHBBoxCoder',
        target_means=[0.0, 0.0, 0.0, 0.0],
        target_stds=[0.1, 0.1, 0.2, 0.2],
    ),
    loss_bbox=dict(type='SmoothL1Loss', beta=0.11, loss_weight=0.75),
    train_cfg=dict(
        assigner=dict(
            type='MaxIoUAssigner',
            pos_iou_thr=0.5,
            neg_iou_thr=0.4,
            min_pos_iou=0,
            ignore_iof_thr=-1,
        ),
        allowed_border=-1,
        pos_weight=-1,
        debug=False,
    ),
    test_cfg=_TEST_CFG,
)

FSAF = dict(
    type='FSAFHead',
    num_classes=NUM_CLASSES,
    in_channels=8,
    feat_channels=8,
    stacked_convs=2,
    reg_decoded_bbox=True,
    anchor_generator=dict(
        type='AnchorGenerator',
        octave_base_scale=1,
        scales_per_octave=1,
        ratios=[1.0],
        strides=[8, 16],
    ),
    bbox_coder=dict(type='TBLRBBoxCoder', normalizer=4.0),
    loss_cls=dict(
        type='FocalLoss',
        use_sigmoid=True,
        gamma=2.0,
        alpha=0.25,
        loss_weight=1.0,
        reduction='none',
    ),
    loss_bbox=dict(
        type='IoULoss', eps=1e-6, loss_weight=1.0, reduction='none'
    ),
    train_cfg=dict(
        assigner=dict(
            type='CenterRegionAssigner',
            pos_scale=0.2,
            neg_scale=0.2,
            min_pos_iof=0.01,
        ),
        allowed_border=-1,
        pos_weight=-1,
        debug=False,
    ),
    test_cfg=_TEST_CFG,
)

NASFCOS = dict(
    type='NASFCOSHead',
    num_classes=NUM_CLASSES,
    in_channels=8,
    feat_channels=8,
    strides=[8, 16],
    regress_ranges=((-1, 32), (32, 1e8)),
    norm_cfg=dict(type='GN', num_groups=2),
    loss_cls=dict(
        type='FocalLoss',
        use_sigmoid=True,
        gamma=2.0,
        alpha=0.25,
        loss_weight=1.0,
    ),
    loss_bbox=dict(type='IoULoss', loss_weight=1.0),
    loss_centerness=dict(
        type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0
    ),
    train_cfg=None,
    test_cfg=dict(_TEST_CFG, nms=dict(type='nms', iou_threshold=0.6)),
)

# the LAD student's head; its teacher is the same head seeded with 2
LAD = dict(PAA, type='LADHead')

AUTOASSIGN = dict(
    type='AutoAssignHead',
    num_classes=NUM_CLASSES,
    in_channels=8,
    feat_channels=8,
    stacked_convs=2,
    strides=[8, 16],
    regress_ranges=((-1, 32), (32, 1e8)),
    norm_cfg=_GN,
    loss_bbox=dict(type='GIoULoss', loss_weight=5.0),
    train_cfg=None,
    test_cfg=dict(_TEST_CFG, nms=dict(type='nms', iou_threshold=0.6)),
)

CASES = dict(
    fovea=FOVEA,
    fovea_align=FOVEA_ALIGN,
    paa=PAA,
    free_anchor=FREE_ANCHOR,
    fsaf=FSAF,
    nasfcos=NASFCOS,
    lad=LAD,
    autoassign=AUTOASSIGN,
)


def seed_params(head, std=0.1, seed=0):
    """Overwrite every state-dict entry, in key order, with seeded
    normal(0, std) values (the same numbers for equal keys and shapes)."""
    gen = torch.Generator().manual_seed(seed)
    state = head.state_dict()
    new = {
        k: torch.randn(state[k].shape, generator=gen) * std
        for k in sorted(state)
    }
    if 'center_prior.sigma' in new:  # AutoAssign: a usable prior spread
        new['center_prior.sigma'] = new['center_prior.sigma'].abs() + 1.0
    head.load_state_dict(new, strict=True)


def loss_inputs(name, head, feats, gt_bboxes, gt_labels, metas):
    """``head.loss``'s keyword arguments beyond the outputs and targets:
    for LAD the assignment of a teacher (the same head seeded with 2)."""
    if name != 'lad':
        return {}
    cfg = ConfigDict(LAD)
    cfg.pop('type')
    teacher = type(head)(**cfg)
    seed_params(teacher, seed=2)
    with torch.no_grad():
        assignment = teacher.get_label_assignment(
            *teacher(feats), gt_bboxes, gt_labels, metas
        )
    return dict(label_assignment_results=assignment)


def inputs():
    """Two images' features (strides 8 and 16), gt boxes, labels, metas."""
    gen = torch.Generator().manual_seed(1)
    feats = [
        torch.randn(2, 8, IMG // s, IMG // s, generator=gen) for s in (8, 16)
    ]
    gt_bboxes = [
        torch.tensor([[4.0, 6.0, 28.0, 26.0], [20.0, 18.0, 60.0, 62.0]]),
        torch.tensor(
            [
                [10.0, 10.0, 22.0, 30.0],
                [30.0, 2.0, 62.0, 40.0],
                [2.0, 36.0, 40.0, 60.0],
            ]
        ),
    ]
    gt_labels = [torch.tensor([0, 2]), torch.tensor([1, 1, 0])]
    meta = dict(
        img_shape=(IMG, IMG, 3),
        pad_shape=(IMG, IMG, 3),
        ori_shape=(2 * IMG, 2 * IMG, 3),
        scale_factor=np.array([0.5, 0.5, 0.5, 0.5], dtype=np.float32),
        flip=False,
    )
    return feats, gt_bboxes, gt_labels, [dict(meta), dict(meta)]
