# MaskFormer, ODConv (4x) ResNet-50, COCO panoptic 75 epochs:
# MMDetection's maskformer/maskformer_r50_mstrain_16x1_75e_coco.py
# with its backbone replaced by the ODConv one. The ImageNet weights go
# to the backbone: MaskFormer's detector takes no model-level `pretrained`.
_base_ = '../maskformer/maskformer_r50_mstrain_16x1_75e_coco.py'
model = dict(
    backbone=dict(
        _delete_=True,
        type='OD_ResNet',
        depth=50,
        reduction=0.0625,
        kernel_num=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_eval=True,
        pretrained='checkpoints/imagenet/od_resnet50_4x.pth',
    ),
)
find_unused_parameters = True
