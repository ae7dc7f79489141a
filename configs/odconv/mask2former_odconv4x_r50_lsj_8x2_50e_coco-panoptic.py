# Mask2Former, ODConv (4x) ResNet-50, COCO panoptic:
# MMDetection's mask2former/mask2former_r50_lsj_8x2_50e_coco-panoptic.py
# with its backbone replaced by the ODConv one. The ImageNet weights go
# to the backbone: Mask2Former's detector takes no model-level `pretrained`.
_base_ = '../mask2former/mask2former_r50_lsj_8x2_50e_coco-panoptic.py'
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
