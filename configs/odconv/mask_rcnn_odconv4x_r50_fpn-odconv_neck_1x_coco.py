# Mask R-CNN, ODConv (4x) ResNet-50 + FPN, with ODConv (4x) also in the FPN
# (its 4 lateral 1x1 and 4 output 3x3 convs, each with a bias as the plain
# FPN's).
_base_ = './mask_rcnn_odconv4x_r50_fpn_1x_coco.py'
model = dict(
    neck=dict(conv_cfg=dict(type='ODConv', kernel_num=4, reduction=0.0625))
)
