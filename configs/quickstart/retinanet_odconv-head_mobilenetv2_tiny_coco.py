# Quick start: retinanet_odconv_mobilenetv2_tiny_coco.py with ODConv (4x)
# also in the head's two-conv classification and regression towers
# (the small-size counterpart of
# configs/odconv/retinanet_odconv4x_r50_fpn-odconv_head_1x_coco.py).
# temperature=10.0: the backbone's, so ODConvTemperatureHook anneals every
# ODConv layer from 30 to the same 10 (it refuses layers built with
# different temperatures).
_base_ = './retinanet_odconv_mobilenetv2_tiny_coco.py'
model = dict(
    bbox_head=dict(
        conv_cfg=dict(
            type='ODConv', kernel_num=4, reduction=0.0625, temperature=10.0
        )
    )
)
