# Quick start: SOLOv2 with an ODConv (4x) MobileNetV2 (0.5x), trained FROM
# SCRATCH on the generated tiny COCO-format set with masks
# (tools/misc/make_tiny_coco.py, 128 px images, 4 classes), on the CPU.
#
#   python tools/train.py configs/quickstart/solov2_odconv_mobilenetv2_tiny_coco.py
#
# Backbone, temperature, clipping, warm-up and thread settings as in
# mask_rcnn_odconv_mobilenetv2_tiny_coco.py (why: see there). Specific:
# - Box-free: evaluated on segm only (its result boxes are all zero).
# - Narrow: 64-channel FPN and kernel/category towers of 2 convs, 32-channel
#   mask features (GN 16 groups).
# - Scale ranges and grids shrunk with the images (128 px instead of
#   ~800): objects of 20-50 px go to the two stride-8 levels, whose 12 and
#   10 cells are ~11-13 px wide.
# - lr 0.01 (MMDetection's SOLOv2 lr) for 4 images per step.
_base_ = [
    '../_base_/datasets/tiny_coco_instance.py',
    '../_base_/quickstart_runtime.py',
]
model = dict(
    type='SOLOv2',
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
        start_level=0,
        num_outs=5,
    ),
    mask_head=dict(
        type='SOLOV2Head',
        num_classes=4,
        in_channels=64,
        feat_channels=64,
        stacked_convs=2,
        strides=[8, 8, 16, 32, 32],
        scale_ranges=((1, 32), (16, 64), (32, 128), (64, 256), (128, 512)),
        pos_scale=0.2,
        num_grids=[12, 10, 8, 6, 4],
        cls_down_index=0,
        mask_feature_head=dict(
            feat_channels=32,
            start_level=0,
            end_level=3,
            out_channels=32,
            mask_stride=4,
            norm_cfg=dict(type='GN', num_groups=16, requires_grad=True),
        ),
        loss_mask=dict(type='DiceLoss', use_sigmoid=True, loss_weight=3.0),
        loss_cls=dict(
            type='FocalLoss',
            use_sigmoid=True,
            gamma=2.0,
            alpha=0.25,
            loss_weight=1.0,
        ),
    ),
    test_cfg=dict(
        nms_pre=500,
        score_thr=0.1,
        mask_thr=0.5,
        filter_thr=0.05,
        kernel='gaussian',
        sigma=2.0,
        max_per_img=100,
    ),
)

evaluation = dict(interval=2, metric='segm')
