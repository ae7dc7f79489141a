# Mask R-CNN, ResNet-50 + FPN, COCO 1x schedule.
_base_ = [
    '../_base_/models/mask_rcnn_r50_fpn.py',
    '../_base_/datasets/coco_instance.py',
    '../_base_/schedules/schedule_1x.py',
    '../_base_/default_runtime.py',
]
model = dict(
    pretrained='checkpoints/imagenet/resnet50.pth',
    # the released layout: torchvision's ResNet-50 with its ImageNet
    # classifier (fc), unlike MMDetection's stock ResNet (no fc)
    backbone=dict(
        _delete_=True,
        type='ResNet',
        depth=50,
        num_classes=1000,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_eval=True,
    ),
)
find_unused_parameters = True
