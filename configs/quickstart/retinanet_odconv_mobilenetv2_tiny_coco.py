# Quick start: RetinaNet with an ODConv (4x) MobileNetV2 (0.5x), trained FROM
# SCRATCH on the generated tiny COCO-format set (tools/misc/make_tiny_coco.py,
# 400 train / 100 val images of 128 px, 4 classes, objects of 20-50 px), on
# the CPU.
#
#   python tools/train.py configs/quickstart/retinanet_odconv_mobilenetv2_tiny_coco.py
#
# The backbone, temperature, clipping, warm-up and thread settings are those
# of mask_rcnn_odconv_mobilenetv2_tiny_coco.py (why: see there). Specific:
# - Narrow head: 64-channel FPN and towers of 2 convs instead of 4x256; the
#   default anchors (32-50 px squares at stride 8) already fit the objects.
# - lr 0.01 (MMDetection's RetinaNet lr) for 4 images per step.
_base_ = [
    '../_base_/models/retinanet_r50_fpn.py',
    '../_base_/datasets/tiny_coco_detection.py',
    '../_base_/quickstart_runtime.py',
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
    bbox_head=dict(
        num_classes=4, in_channels=64, feat_channels=64, stacked_convs=2
    ),
)

evaluation = dict(interval=2, metric='bbox')
