# Quick start: VFNet with an ODConv (4x) MobileNetV2 (0.5x), trained FROM
# SCRATCH on the generated tiny COCO-format set (tools/misc/make_tiny_coco.py,
# 400 train / 100 val images of 128 px, 4 classes, objects of 20-50 px), on
# the CPU.
#
#   python tools/train.py configs/quickstart/vfnet_odconv_mobilenetv2_tiny_coco.py
#
# The backbone, temperature, clipping, warm-up and thread settings are those
# of mask_rcnn_odconv_mobilenetv2_tiny_coco.py (why: see there). Specific:
# - Narrow head: 64-channel FPN and towers of 2 GroupNorm convs instead of
#   3x256; ATSS on one 64 px square per position labels the points, as in
#   MMDetection's vfnet_r50_fpn_1x_coco.py.
# - lr 0.01 (MMDetection's VFNet lr) for 4 images per step.
_base_ = [
    '../_base_/datasets/tiny_coco_detection.py',
    '../_base_/quickstart_runtime.py',
]
model = dict(
    type='VFNet',
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
        type='VFNetHead',
        num_classes=4,
        in_channels=64,
        stacked_convs=2,
        feat_channels=64,
        strides=[8, 16, 32, 64, 128],
        center_sampling=False,
        dcn_on_last_conv=False,
        use_atss=True,
        use_vfl=True,
        loss_cls=dict(
            type='VarifocalLoss',
            use_sigmoid=True,
            alpha=0.75,
            gamma=2.0,
            iou_weighted=True,
            loss_weight=1.0,
        ),
        loss_bbox=dict(type='GIoULoss', loss_weight=1.5),
        loss_bbox_refine=dict(type='GIoULoss', loss_weight=2.0),
    ),
    train_cfg=dict(
        assigner=dict(type='ATSSAssigner', topk=9),
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
