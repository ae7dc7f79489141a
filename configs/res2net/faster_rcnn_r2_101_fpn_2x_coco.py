# Faster R-CNN, Res2Net-101 (26w x 4s, v1d) + FPN, COCO 2x (MMDetection
# 2.28's settings).
_base_ = '../faster_rcnn/faster_rcnn_r50_fpn_1x_coco.py'
model = dict(
    backbone=dict(
        type='Res2Net',
        depth=101,
        scales=4,
        base_width=26,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='open-mmlab://res2net101_v1d_26w_4s',
        ),
    )
)
# the 2x schedule: 24 epochs, lr x0.1 after epochs 16 and 22
lr_config = dict(step=[16, 22])
runner = dict(type='EpochBasedRunner', max_epochs=24)
