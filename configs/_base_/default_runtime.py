checkpoint_config = dict(interval=1)
# text log and .log.json every 50 iterations
log_config = dict(
    interval=50,
    hooks=[
        dict(type='TextLoggerHook'),
        # dict(type='TensorboardLoggerHook')
    ],
)
custom_hooks = [dict(type='NumClassCheckHook')]
dist_params = dict(backend='nccl')
log_level = 'INFO'
load_from = None
resume_from = None
workflow = [('train', 1)]

# set the multi-process start method to 'fork' to speed up data loading
opencv_num_threads = 0
mp_start_method = 'fork'

# Default setting for scaling LR automatically (--auto-scale-lr):
# base_batch_size = 8 GPUs x 2 images per GPU.
auto_scale_lr = dict(enable=False, base_batch_size=16)
