# Cascade Mask R-CNN, Res2Net-101 (26w x 4s, v1d) + FPN, COCO 20e
# (MMDetection 2.28's settings).
_base_ = '../cascade_rcnn/cascade_mask_rcnn_r50_fpn_1x_coco.py'
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
# the 20e schedule: 20 epochs, lr x0.1 after epochs 16 and 19
lr_config = dict(step=[16, 19])
runner = dict(type='EpochBasedRunner', max_epochs=20)
