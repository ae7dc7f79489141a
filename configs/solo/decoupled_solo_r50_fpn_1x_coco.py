_base_ = ['./solo_r50_fpn_1x_coco.py']

# x/y-decoupled masks: the head gives probabilities, so no sigmoid in loss
model = dict(
    mask_head=dict(
        type='DecoupledSOLOHead',
        scale_ranges=((1, 96), (48, 192), (96, 384), (192, 768), (384, 2048)),
        loss_mask=dict(
            type='DiceLoss', use_sigmoid=True, activate=False, loss_weight=3.0
        ),
    )
)

optimizer = dict(type='SGD', lr=0.01)
