# Faster R-CNN on Cascade RPN proposals, ODConv (4x) ResNet-50 + FPN, COCO
# 1x: MMDetection's cascade_rpn/crpn_faster_rcnn_r50_caffe_fpn_1x_coco.py
# with its backbone replaced by the ODConv one (as in the released
# Faster/Mask R-CNN ODConv configs).
_base_ = '../cascade_rpn/crpn_faster_rcnn_r50_caffe_fpn_1x_coco.py'
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
