_base_ = '../faster_rcnn/faster_rcnn_r50_fpn_1x_coco.py'
# generalized attention (all four terms) after conv2 of stages 3-4
model = dict(
    backbone=dict(
        plugins=[
            dict(
                cfg=dict(
                    type='GeneralizedAttention',
                    spatial_range=-1,
                    num_heads=8,
                    attention_type='1111',
                    kv_stride=2,
                ),
                stages=(False, False, True, True),
                position='after_conv2',
            )
        ]
    )
)
