# RetinaNet, ODConv (4x) MobileNetV2 (1.0x) + FPN, COCO 1x schedule:
# MMDetection's retinanet/retinanet_r50_fpn_1x_coco.py
# with its backbone replaced by the ODConv one (as in the released
# Faster/Mask R-CNN ODConv configs).
_base_ = '../retinanet/retinanet_r50_fpn_1x_coco.py'
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
