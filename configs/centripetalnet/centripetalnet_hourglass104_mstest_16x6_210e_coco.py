_base_ = '../cornernet/cornernet_hourglass104_mstest_8x6_210e_coco.py'
model = dict(
    bbox_head=dict(
        _delete_=True,
        type='CentripetalHead',
        num_classes=80,
        in_channels=256,
        num_feat_levels=2,
        corner_emb_channels=0,
        loss_heatmap=dict(
            type='GaussianFocalLoss', alpha=2.0, gamma=4.0, loss_weight=1
        ),
        loss_offset=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1),
        loss_guiding_shift=dict(
            type='SmoothL1Loss', beta=1.0, loss_weight=0.05
        ),
        loss_centripetal_shift=dict(
            type='SmoothL1Loss', beta=1.0, loss_weight=1
        ),
    )
)
lr_config = dict(step=[190])
# 16 GPUs x 6 images
auto_scale_lr = dict(base_batch_size=96)
