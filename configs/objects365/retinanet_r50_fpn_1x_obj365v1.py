_base_ = [
    '../_base_/models/retinanet_r50_fpn.py',
    '../_base_/datasets/objects365v1_detection.py',
    '../_base_/schedules/schedule_1x.py',
    '../_base_/default_runtime.py',
]
model = dict(bbox_head=dict(num_classes=365))
# lr for 8 GPUs x 2 images
optimizer = dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001)
optimizer_config = dict(
    _delete_=True, grad_clip=dict(max_norm=35, norm_type=2)
)
lr_config = dict(
    policy='step',
    warmup='linear',
    warmup_iters=10000,
    warmup_ratio=1.0 / 1000,
    step=[8, 11],
)
auto_scale_lr = dict(base_batch_size=16)
