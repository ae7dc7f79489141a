# Quick start: FCOS with an ODConv (4x) MobileNetV2 (0.5x), trained FROM
# SCRATCH on the generated tiny COCO-format set (tools/misc/make_tiny_coco.py,
# 400 train / 100 val images of 128 px, 4 classes, objects of 20-50 px), on
# the CPU.
#
#   python tools/train.py configs/quickstart/fcos_odconv_mobilenetv2_tiny_coco.py
#
# The backbone, temperature, clipping, warm-up and thread settings are those
# of mask_rcnn_odconv_mobilenetv2_tiny_coco.py (why: see there). Specific:
# - The head has MMDetection's FCOS improvements (center sampling, distances
#   in strides through a ReLU, centerness on the box tower, GIoU loss, as in
#   its fcos_center-normbbox-centeronreg-giou config): the exp() of plain
#   FCOS makes the first from-scratch iterations unstable.
# - Narrow head: 64-channel FPN and towers of 2 GroupNorm convs.
# - Pytorch-style normalization (the OD backbone's), not FCOS's caffe one.
_base_ = [
    '../_base_/datasets/tiny_coco_detection.py',
    '../_base_/quickstart_runtime.py',
]
model = dict(
    type='FCOS',
    backbone=dict(
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
    neck=dict(
        type='FPN',
        in_channels=[16, 16, 48, 1280],
        out_channels=64,
        start_level=1,
        add_extra_convs='on_output',
        num_outs=5,
        relu_before_extra_convs=True,
    ),
    bbox_head=dict(
        type='FCOSHead',
        num_classes=4,
        in_channels=64,
        stacked_convs=2,
        feat_channels=64,
        strides=[8, 16, 32, 64, 128],
        norm_on_bbox=True,
        centerness_on_reg=True,
        center_sampling=True,
        conv_bias=True,
        loss_cls=dict(
            type='FocalLoss',
            use_sigmoid=True,
            gamma=2.0,
            alpha=0.25,
            loss_weight=1.0,
        ),
        loss_bbox=dict(type='GIoULoss', loss_weight=1.0),
        loss_centerness=dict(
            type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0
        ),
    ),
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
    test_cfg=dict(
        nms_pre=1000,
        min_bbox_size=0,
        score_thr=0.05,
        nms=dict(type='nms', iou_threshold=0.5),
        max_per_img=100,
    ),
)

optimizer = dict(
    type='SGD',
    lr=0.01,
    momentum=0.9,
    weight_decay=0.0001,
    paramwise_cfg=dict(bias_lr_mult=2.0, bias_decay_mult=0.0),
)
evaluation = dict(interval=2, metric='bbox')
