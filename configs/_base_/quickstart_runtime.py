# The runtime and training schedule of the quick-start configs
# (configs/quickstart/*_tiny_coco.py): MMDetection's default runtime, then
# from scratch on the generated tiny set, 4 images per step, on the CPU.
# Why each value: configs/quickstart/mask_rcnn_odconv_mobilenetv2_tiny_coco.py.
_base_ = ['./default_runtime.py']
optimizer = dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001)
optimizer_config = dict(grad_clip=dict(max_norm=10, norm_type=2))
lr_config = dict(
    policy='step',
    warmup='linear',
    warmup_iters=100,
    warmup_ratio=0.001,
    step=[6],
)
runner = dict(type='EpochBasedRunner', max_epochs=8)
custom_hooks = [
    dict(type='NumClassCheckHook'),
    # 30 -> 10 (the backbone's temperature) over the first 4 epochs
    dict(type='ODConvTemperatureHook', init_temp=30.0, anneal_epochs=4),
]
checkpoint_config = dict(interval=1)
log_config = dict(interval=20, hooks=[dict(type='TextLoggerHook')])
torch_num_threads = 1
# for dist_train.sh: the backbone's ImageNet classifier gets no gradient
find_unused_parameters = True
# the lr above is for 4 images per step (--auto-scale-lr rescales it)
auto_scale_lr = dict(enable=False, base_batch_size=4)
