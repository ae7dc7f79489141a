_base_ = './solo_r50_fpn_3x_coco.py'

model = dict(
    mask_head=dict(
        type='DecoupledSOLOHead',
        loss_mask=dict(
            type='DiceLoss', use_sigmoid=True, activate=False, loss_weight=3.0
        ),
    )
)
