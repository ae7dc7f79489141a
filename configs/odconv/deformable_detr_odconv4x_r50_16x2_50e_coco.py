# Deformable DETR (plain), ODConv (4x) ResNet-50, COCO 50 epochs:
# MMDetection's deformable_detr/deformable_detr_r50_16x2_50e_coco.py
# with its backbone replaced by the ODConv one (as in the released
# Faster/Mask R-CNN ODConv configs); the neck reads stages 2-4.
_base_ = '../deformable_detr/deformable_detr_r50_16x2_50e_coco.py'
model = dict(
    pretrained='checkpoints/imagenet/od_resnet50_4x.pth',
    backbone=dict(
        _delete_=True,
        type='OD_ResNet',
        depth=50,
        reduction=0.0625,
        kernel_num=4,
        out_indices=(1, 2, 3),
        frozen_stages=1,
        norm_eval=True,
    ),
)
find_unused_parameters = True
