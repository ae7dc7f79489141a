# Quick start: mask_rcnn_odconv_mobilenetv2_tiny_coco.py with ODConv (4x)
# also in the FPN (the small-size counterpart of
# configs/odconv/mask_rcnn_odconv4x_r50_fpn-odconv_neck_1x_coco.py).
_base_ = './mask_rcnn_odconv_mobilenetv2_tiny_coco.py'
model = dict(
    neck=dict(conv_cfg=dict(type='ODConv', kernel_num=4, reduction=0.0625))
)
