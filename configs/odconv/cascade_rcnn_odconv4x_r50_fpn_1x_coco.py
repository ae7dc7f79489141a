# Cascade R-CNN, ODConv (4x) ResNet-50 + FPN, COCO 1x:
# MMDetection's cascade_rcnn_r50_fpn_1x_coco with the backbone
# replaced as in the released ODConv Faster/Mask R-CNN configs
# (no released checkpoint).
_base_ = [
    '../_base_/models/cascade_rcnn_r50_fpn.py',
    '../_base_/datasets/coco_detection.py',
    '../_base_/schedules/schedule_1x.py',
    '../_base_/default_runtime.py',
]
model = dict(
    pretrained='checkpoints/imagenet/od_resnet50_4x.pth',
    backbone=dict(
        _delete_=True,
        type='OD_ResNet',
        depth=50,
        reduction=0.0625,
        kernel_num=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_eval=True,
    ),
)
find_unused_parameters = True
