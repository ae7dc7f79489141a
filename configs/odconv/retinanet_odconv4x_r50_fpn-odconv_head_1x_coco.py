# RetinaNet, ODConv (4x) ResNet-50 + FPN, with ODConv (4x) also in the
# head's classification and regression towers (4 + 4 3x3 convs, each with a
# bias as the plain towers have); the predictor convs stay plain.
_base_ = './retinanet_odconv4x_r50_fpn_1x_coco.py'
model = dict(
    bbox_head=dict(
        conv_cfg=dict(type='ODConv', kernel_num=4, reduction=0.0625)
    )
)
