# Quick start: Cascade R-CNN with an ODConv (4x) MobileNetV2 (0.5x), trained
# FROM SCRATCH on the generated tiny COCO-format set (tools/misc/
# make_tiny_coco.py; 400 train / 100 val images of 128 px, 4 classes).
#
#   python tools/train.py configs/quickstart/cascade_rcnn_odconv_mobilenetv2_tiny_coco.py
#
# The backbone, neck, optimizer, temperature schedule and threads are those
# of mask_rcnn_odconv_mobilenetv2_tiny_coco.py (its comments say why); the
# RoI head is MMDetection's three-stage cascade (IoU 0.5 / 0.6 / 0.7,
# stage loss weights 1 / 0.5 / 0.25) with narrow heads: 64-channel RoI
# features, 256-unit fc, 128 sampled RoIs per image
# and stage. Four epochs (lr step after the third) are enough for the
# quick-start goal; docs/changelog.md has the measured mAP.
_base_ = [
    '../_base_/models/cascade_rcnn_r50_fpn.py',
    '../_base_/datasets/tiny_coco_detection.py',
    '../_base_/quickstart_runtime.py',
]
bbox_heads = [
    dict(
        type='Shared2FCBBoxHead',
        in_channels=64,
        fc_out_channels=256,
        roi_feat_size=7,
        num_classes=4,
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[0.0, 0.0, 0.0, 0.0],
            target_stds=[0.1, 0.1, 0.2, 0.2],
        ),
        reg_class_agnostic=True,
        loss_cls=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0
        ),
        loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0),
    ),
    dict(
        type='Shared2FCBBoxHead',
        in_channels=64,
        fc_out_channels=256,
        roi_feat_size=7,
        num_classes=4,
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[0.0, 0.0, 0.0, 0.0],
            target_stds=[0.05, 0.05, 0.1, 0.1],
        ),
        reg_class_agnostic=True,
        loss_cls=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0
        ),
        loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0),
    ),
    dict(
        type='Shared2FCBBoxHead',
        in_channels=64,
        fc_out_channels=256,
        roi_feat_size=7,
        num_classes=4,
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[0.0, 0.0, 0.0, 0.0],
            target_stds=[0.033, 0.033, 0.067, 0.067],
        ),
        reg_class_agnostic=True,
        loss_cls=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0
        ),
        loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0),
    ),
]
rcnn_stage_cfgs = [
    dict(
        assigner=dict(
            type='MaxIoUAssigner',
            pos_iou_thr=iou,
            neg_iou_thr=iou,
            min_pos_iou=iou,
            match_low_quality=False,
            ignore_iof_thr=-1,
        ),
        sampler=dict(
            type='RandomSampler',
            num=128,
            pos_fraction=0.25,
            neg_pos_ub=-1,
            add_gt_as_proposals=True,
        ),
        pos_weight=-1,
        debug=False,
    )
    for iou in (0.5, 0.6, 0.7)
]
model = dict(
    backbone=dict(
        _delete_=True,
        type='OD_MobileNetV2',
        width_mult=0.5,
        reduction=0.0625,
        kernel_num=4,
        temperature=10.0,
        out_indices=(1, 2, 3, 4),
        frozen_stages=-1,
        norm_eval=False,
        pretrained=None,
    ),
    neck=dict(in_channels=[16, 16, 48, 1280], out_channels=64),
    rpn_head=dict(in_channels=64, feat_channels=64),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64), bbox_head=bbox_heads
    ),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=500, max_per_img=200), rcnn=rcnn_stage_cfgs
    ),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=200)),
)

optimizer = dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001)
lr_config = dict(step=[3])  # the rest: quickstart_runtime.py
runner = dict(type='EpochBasedRunner', max_epochs=4)
evaluation = dict(interval=2, metric='bbox')
