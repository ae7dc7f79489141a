_base_ = '../mask_rcnn/mask_rcnn_r50_fpn_1x_coco.py'
# a global context block (channel ratio 1/16) after conv3 of every
# Bottleneck of stages 2-4
model = dict(
    backbone=dict(
        plugins=[
            dict(
                cfg=dict(type='ContextBlock', ratio=1.0 / 16),
                stages=(False, True, True, True),
                position='after_conv3',
            )
        ]
    )
)
