# training schedule for 2x: 24 epochs, lr x0.1 after epochs 16 and 22.
# lr 0.02 is for 16 images per step (8 GPUs x 2 images).
optimizer = dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001)
optimizer_config = dict(grad_clip=None)
lr_config = dict(
    policy='step',
    warmup='linear',
    warmup_iters=500,
    warmup_ratio=0.001,
    step=[16, 22],
)
runner = dict(type='EpochBasedRunner', max_epochs=24)
