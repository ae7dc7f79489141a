# Quick start: mask_rcnn_odconv_mobilenetv2_tiny_coco.py with ODConv (4x)
# also in the FPN (the small-size counterpart of
# configs/odconv/mask_rcnn_odconv4x_r50_fpn-odconv_neck_1x_coco.py).
# temperature=10.0: the backbone's, so ODConvTemperatureHook anneals every
# ODConv layer from 30 to the same 10 (it refuses layers built with
# different temperatures).
_base_ = './mask_rcnn_odconv_mobilenetv2_tiny_coco.py'
model = dict(
    neck=dict(
        conv_cfg=dict(
            type='ODConv', kernel_num=4, reduction=0.0625, temperature=10.0
        )
    )
)
