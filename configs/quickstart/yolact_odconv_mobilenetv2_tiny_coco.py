# Quick start: YOLACT with an ODConv (4x) MobileNetV2 (0.5x), trained FROM
# SCRATCH on the generated tiny COCO-format set with masks
# (tools/misc/make_tiny_coco.py, 128 px images, 4 classes), on the CPU.
#
#   python tools/train.py configs/quickstart/yolact_odconv_mobilenetv2_tiny_coco.py
#
# Backbone, temperature, warm-up and thread settings as in
# mask_rcnn_odconv_mobilenetv2_tiny_coco.py (why: see there). Specific:
# - YOLACT's square input at 128 px instead of 550: the FPN levels have
#   16/8/4/2/1 cells; anchors 12-192 px (base sizes 4..64, octave scale 3)
#   cover the 20-50 px objects. YOLACT's expand / crop / photometric
#   augmentations are left out for the short schedule.
# - Narrow: 64-channel FPN, head and protonet, 16 prototypes.
# - YOLACT's own optimizer: SGD lr 1e-3 (for its 8 images; here 4), no
#   gradient clipping, 12 epochs. With the other quick starts' lr 0.01 and
#   clipping at 10 the box and class losses plateaued (their gradient norm,
#   30-800, was always clipped): 0.168 segm mAP in 8 epochs, 0.083 in 24;
#   lr 0.01 unclipped diverges.
_base_ = [
    '../_base_/datasets/tiny_coco_instance.py',
    '../_base_/quickstart_runtime.py',
]
img_size = 128
cells = [16, 8, 4, 2, 1]
num_protos = 16
model = dict(
    type='YOLACT',
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
        add_extra_convs='on_input',
        num_outs=5,
        upsample_cfg=dict(mode='bilinear'),
    ),
    bbox_head=dict(
        type='YOLACTHead',
        num_classes=4,
        in_channels=64,
        feat_channels=64,
        anchor_generator=dict(
            type='AnchorGenerator',
            octave_base_scale=3,
            scales_per_octave=1,
            base_sizes=[4, 8, 16, 32, 64],
            ratios=[0.5, 1.0, 2.0],
            strides=[img_size / x for x in cells],
            centers=[(img_size * 0.5 / x, img_size * 0.5 / x) for x in cells],
        ),
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[0.0, 0.0, 0.0, 0.0],
            target_stds=[0.1, 0.1, 0.2, 0.2],
        ),
        loss_cls=dict(
            type='CrossEntropyLoss',
            use_sigmoid=False,
            reduction='none',
            loss_weight=1.0,
        ),
        loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.5),
        num_head_convs=1,
        num_protos=num_protos,
        use_ohem=True,
    ),
    mask_head=dict(
        type='YOLACTProtonet',
        in_channels=64,
        proto_channels=(64, 64, 64, None, 64, num_protos),
        num_protos=num_protos,
        num_classes=4,
        max_masks_to_train=100,
        loss_mask_weight=6.125,
    ),
    segm_head=dict(
        type='YOLACTSegmHead',
        num_classes=4,
        in_channels=64,
        loss_segm=dict(
            type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0
        ),
    ),
    train_cfg=dict(
        assigner=dict(
            type='MaxIoUAssigner',
            pos_iou_thr=0.5,
            neg_iou_thr=0.4,
            min_pos_iou=0.0,
            ignore_iof_thr=-1,
            gt_max_assign_all=False,
        ),
        allowed_border=-1,
        pos_weight=-1,
        neg_pos_ratio=3,
        debug=False,
    ),
    test_cfg=dict(
        nms_pre=1000,
        min_bbox_size=0,
        score_thr=0.05,
        iou_thr=0.5,
        top_k=200,
        max_per_img=100,
    ),
)
img_norm_cfg = dict(
    mean=[123.68, 116.78, 103.94], std=[58.40, 57.12, 57.38], to_rgb=True
)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(4.0, 4.0)),
    dict(type='Resize', img_scale=(img_size, img_size), keep_ratio=False),
    dict(type='RandomFlip', flip_ratio=0.5),
    dict(type='Normalize', **img_norm_cfg),
    dict(type='DefaultFormatBundle'),
    dict(type='Collect', keys=['img', 'gt_bboxes', 'gt_labels', 'gt_masks']),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='MultiScaleFlipAug',
        img_scale=(img_size, img_size),
        flip=False,
        transforms=[
            dict(type='Resize', keep_ratio=False),
            dict(type='Normalize', **img_norm_cfg),
            dict(type='ImageToTensor', keys=['img']),
            dict(type='Collect', keys=['img']),
        ],
    ),
]
data = dict(
    samples_per_gpu=4,
    workers_per_gpu=2,
    train=dict(pipeline=train_pipeline),
    val=dict(pipeline=test_pipeline),
    test=dict(pipeline=test_pipeline),
)

optimizer = dict(type='SGD', lr=0.001, momentum=0.9, weight_decay=0.0001)
optimizer_config = dict(grad_clip=None)
lr_config = dict(step=[10])
runner = dict(type='EpochBasedRunner', max_epochs=12)
evaluation = dict(interval=2, metric=['bbox', 'segm'])
cudnn_benchmark = False
