# A micro Mask R-CNN on 64-pixel tiny-COCO images, for the runtime tests:
# the code paths of the real configs at a size that trains in seconds.
# The tests point data_root at a generated set with --cfg-options.
_base_ = [
    '../../../configs/_base_/models/mask_rcnn_r50_fpn.py',
    '../../../configs/_base_/datasets/tiny_coco_instance.py',
    '../../../configs/_base_/default_runtime.py'
]
model = dict(
    backbone=dict(
        _delete_=True,
        type='OD_MobileNetV2',
        width_mult=0.25,
        kernel_num=2,
        out_indices=(1, 2, 3, 4),
        frozen_stages=-1,
        norm_eval=False),
    neck=dict(in_channels=[8, 8, 24, 1280], out_channels=16),
    rpn_head=dict(in_channels=16, feat_channels=16),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=16),
        bbox_head=dict(in_channels=16, fc_out_channels=32, num_classes=4),
        mask_roi_extractor=dict(out_channels=16),
        mask_head=dict(
            num_convs=1, in_channels=16, conv_out_channels=16,
            num_classes=4)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=200, max_per_img=50),
        rcnn=dict(sampler=dict(num=32))),
    test_cfg=dict(rpn=dict(nms_pre=200, max_per_img=50)))
img_scale = (64, 64)
img_norm_cfg = dict(
    mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
data = dict(
    samples_per_gpu=2,
    workers_per_gpu=0,
    train=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
        dict(type='Resize', img_scale=img_scale, keep_ratio=True),
        dict(type='RandomFlip', flip_ratio=0.5),
        dict(type='Normalize', **img_norm_cfg),
        dict(type='Pad', size_divisor=32),
        dict(type='DefaultFormatBundle'),
        dict(type='Collect', keys=['img', 'gt_bboxes', 'gt_labels',
                                   'gt_masks']),
    ]),
    val=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='MultiScaleFlipAug', img_scale=img_scale, flip=False,
             transforms=[
                 dict(type='Resize', keep_ratio=True),
                 dict(type='RandomFlip'),
                 dict(type='Normalize', **img_norm_cfg),
                 dict(type='Pad', size_divisor=32),
                 dict(type='ImageToTensor', keys=['img']),
                 dict(type='Collect', keys=['img']),
             ])
    ]),
    test=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='MultiScaleFlipAug', img_scale=img_scale, flip=False,
             transforms=[
                 dict(type='Resize', keep_ratio=True),
                 dict(type='RandomFlip'),
                 dict(type='Normalize', **img_norm_cfg),
                 dict(type='Pad', size_divisor=32),
                 dict(type='ImageToTensor', keys=['img']),
                 dict(type='Collect', keys=['img']),
             ])
    ]))
optimizer = dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001)
optimizer_config = dict(grad_clip=dict(max_norm=10, norm_type=2))
# a step after epoch 1, so a resumed epoch 2 must recompute the decayed lr
lr_config = dict(policy='step', warmup='linear', warmup_iters=3,
                 warmup_ratio=0.1, step=[1])
runner = dict(type='EpochBasedRunner', max_epochs=2)
log_config = dict(interval=1, hooks=[dict(type='TextLoggerHook')])
evaluation = dict(interval=1, metric=['bbox', 'segm'])
dist_params = dict(backend='gloo')
# the backbone's ImageNet classifier takes no part in detection
find_unused_parameters = True
