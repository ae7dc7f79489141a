# Quick start: YOLOF with an ODConv (4x) MobileNetV2 (0.5x), trained FROM
# SCRATCH on the generated tiny COCO-format set (tools/misc/make_tiny_coco.py,
# 400 train / 100 val images of 128 px, 4 classes, objects of 20-50 px), on
# the CPU.
#
#   python tools/train.py configs/quickstart/yolof_odconv_mobilenetv2_tiny_coco.py
#
# The backbone, temperature, clipping, warm-up and thread settings are those
# of mask_rcnn_odconv_mobilenetv2_tiny_coco.py (why: see there). Specific:
# - One level, as YOLOF, but the stride-16 map (48 channels), not the last
#   stride-32 one: a 128 px image gives a 4x4 stride-32 grid, too coarse to
#   place 20-50 px objects (trained so, 8 epochs reached 0.024 bbox mAP);
#   stride 16 gives 8x8, about what C5 gives a COCO image per object size.
#   Through a 64-channel dilated encoder (4 blocks of 32 mid channels).
# - Anchors of 16, 32 and 64 px (scales 1-4 of the stride) instead of
#   32-512 px: the objects are 20-50 px in 128 px images.
# - Narrow head: towers of 2 (class) and 2 (box) convs of 64 channels.
# - lr 0.01 for 4 images per step (YOLOF's 0.12 is for 64 images).
_base_ = [
    '../_base_/datasets/tiny_coco_detection.py',
    '../_base_/quickstart_runtime.py',
]
model = dict(
    type='YOLOF',
    backbone=dict(
        type='OD_MobileNetV2',
        width_mult=0.5,
        reduction=0.0625,
        kernel_num=4,
        temperature=10.0,
        out_indices=(3,),
        frozen_stages=-1,
        norm_eval=False,
        pretrained=None,
    ),
    neck=dict(
        type='DilatedEncoder',
        in_channels=48,
        out_channels=64,
        block_mid_channels=32,
        num_residual_blocks=4,
        block_dilations=[2, 4, 6, 8],
    ),
    bbox_head=dict(
        type='YOLOFHead',
        num_classes=4,
        in_channels=64,
        num_cls_convs=2,
        num_reg_convs=2,
        reg_decoded_bbox=True,
        anchor_generator=dict(
            type='AnchorGenerator',
            ratios=[1.0],
            scales=[1, 2, 4],
            strides=[16],
        ),
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[0.0, 0.0, 0.0, 0.0],
            target_stds=[1.0, 1.0, 1.0, 1.0],
            add_ctr_clamp=True,
            ctr_clamp=32,
        ),
        loss_cls=dict(
            type='FocalLoss',
            use_sigmoid=True,
            gamma=2.0,
            alpha=0.25,
            loss_weight=1.0,
        ),
        loss_bbox=dict(type='GIoULoss', loss_weight=1.0),
    ),
    train_cfg=dict(
        assigner=dict(
            type='UniformAssigner', pos_ignore_thr=0.15, neg_ignore_thr=0.7
        ),
        allowed_border=-1,
        pos_weight=-1,
        debug=False,
    ),
    test_cfg=dict(
        nms_pre=1000,
        min_bbox_size=0,
        score_thr=0.05,
        nms=dict(type='nms', iou_threshold=0.6),
        max_per_img=100,
    ),
)
evaluation = dict(interval=2, metric='bbox')
