# FCOS, ODConv (4x) MobileNetV2 (1.0x) + FPN, COCO 1x schedule:
# MMDetection's fcos/fcos_r50_caffe_fpn_gn-head_1x_coco.py
# with its backbone replaced by the ODConv one (as in the released
# Faster/Mask R-CNN ODConv configs).
_base_ = '../fcos/fcos_r50_caffe_fpn_gn-head_1x_coco.py'
# the OD backbones' ImageNet weights expect pytorch-style normalization
img_norm_cfg = dict(
    mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True
)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', img_scale=(1333, 800), keep_ratio=True),
    dict(type='RandomFlip', flip_ratio=0.5),
    dict(type='Normalize', **img_norm_cfg),
    dict(type='Pad', size_divisor=32),
    dict(type='DefaultFormatBundle'),
    dict(type='Collect', keys=['img', 'gt_bboxes', 'gt_labels']),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='MultiScaleFlipAug',
        img_scale=(1333, 800),
        flip=False,
        transforms=[
            dict(type='Resize', keep_ratio=True),
            dict(type='RandomFlip'),
            dict(type='Normalize', **img_norm_cfg),
            dict(type='Pad', size_divisor=32),
            dict(type='ImageToTensor', keys=['img']),
            dict(type='Collect', keys=['img']),
        ],
    ),
]
data = dict(
    train=dict(pipeline=train_pipeline),
    val=dict(pipeline=test_pipeline),
    test=dict(pipeline=test_pipeline),
)
model = dict(
    pretrained='checkpoints/imagenet/od_mobilenetv2_100_4x.pth',
    backbone=dict(
        _delete_=True,
        type='OD_MobileNetV2',
        width_mult=1.0,
        reduction=0.0625,
        kernel_num=4,
        out_indices=(1, 2, 3, 4),
        frozen_stages=1,
        norm_eval=True,
    ),
    neck=dict(in_channels=[24, 32, 96, 1280]),
)
find_unused_parameters = True
