# Quick start: YOLOX with an ODConv (4x) MobileNetV2 (0.5x), trained FROM
# SCRATCH on the generated tiny COCO-format set (tools/misc/make_tiny_coco.py,
# 400 train / 100 val images of 128 px, 4 classes, objects of 20-50 px), on
# the CPU.
#
#   python tools/train.py configs/quickstart/yolox_odconv_mobilenetv2_tiny_coco.py
#
# The backbone, temperature, clipping, warm-up and thread settings are those
# of mask_rcnn_odconv_mobilenetv2_tiny_coco.py (why: see there). Specific:
# - The backbone's stride 8/16/32 maps (16, 48, 1280 channels) into a
#   64-channel YOLOX PAFPN and a 64-channel decoupled head.
# - The tiny set's plain pipeline (no Mosaic/MixUp), so none of the YOLOX
#   hooks (they switch those off for the last epochs) and the L1 loss stays
#   off; random input resizing between 96 and 160 px every 10 iterations.
# - A step schedule with lr 0.01 for 4 images per step, not YOLOX's
#   300-epoch cosine one.
_base_ = [
    '../_base_/datasets/tiny_coco_detection.py',
    '../_base_/quickstart_runtime.py',
]
model = dict(
    type='YOLOX',
    input_size=(128, 128),
    random_size_range=(3, 5),
    random_size_interval=10,
    backbone=dict(
        type='OD_MobileNetV2',
        width_mult=0.5,
        reduction=0.0625,
        kernel_num=4,
        temperature=10.0,
        out_indices=(2, 3, 4),
        frozen_stages=-1,
        norm_eval=False,
        pretrained=None,
    ),
    neck=dict(
        type='YOLOXPAFPN',
        in_channels=[16, 48, 1280],
        out_channels=64,
        num_csp_blocks=1,
    ),
    bbox_head=dict(
        type='YOLOXHead', num_classes=4, in_channels=64, feat_channels=64
    ),
    train_cfg=dict(assigner=dict(type='SimOTAAssigner', center_radius=2.5)),
    test_cfg=dict(score_thr=0.01, nms=dict(type='nms', iou_threshold=0.65)),
)
evaluation = dict(interval=2, metric='bbox')
