# Quick start: retinanet_odconv_mobilenetv2_tiny_coco.py with ODConv (4x)
# also in the head's two-conv classification and regression towers
# (the small-size counterpart of
# configs/odconv/retinanet_odconv4x_r50_fpn-odconv_head_1x_coco.py).
_base_ = './retinanet_odconv_mobilenetv2_tiny_coco.py'
model = dict(
    bbox_head=dict(
        conv_cfg=dict(type='ODConv', kernel_num=4, reduction=0.0625)
    )
)
