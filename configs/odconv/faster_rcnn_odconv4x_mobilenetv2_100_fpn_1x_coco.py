# Faster R-CNN, ODConv (4x) MobileNetV2 (1.0x) + FPN, COCO 1x schedule.
_base_ = [
    '../_base_/models/faster_rcnn_r50_fpn.py',
    '../_base_/datasets/coco_detection.py',
    '../_base_/schedules/schedule_1x.py',
    '../_base_/default_runtime.py',
]
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
