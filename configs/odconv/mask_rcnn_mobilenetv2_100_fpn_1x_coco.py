# Mask R-CNN, MobileNetV2 (1.0x) + FPN, COCO 1x schedule.
_base_ = [
    '../_base_/models/mask_rcnn_r50_fpn.py',
    '../_base_/datasets/coco_instance.py',
    '../_base_/schedules/schedule_1x.py',
    '../_base_/default_runtime.py',
]
model = dict(
    pretrained='checkpoints/imagenet/mobilenetv2_100.pth',
    backbone=dict(
        _delete_=True,
        type='MobileNetV2',
        width_mult=1.0,
        out_indices=(1, 2, 3, 4),
        frozen_stages=1,
        norm_eval=True,
    ),
    neck=dict(in_channels=[24, 32, 96, 1280]),
)
find_unused_parameters = True
