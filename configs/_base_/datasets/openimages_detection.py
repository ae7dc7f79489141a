# Open Images v6 (csv annotations; boxes normalised, scaled by
# LoadAnnotations(denorm_bbox=True)); the val / test metas pkl comes from
# tools/misc/get_image_metas.py.
dataset_type = 'OpenImagesDataset'
data_root = 'data/OpenImages/'
img_norm_cfg = dict(
    mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True
)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, denorm_bbox=True),
    dict(type='Resize', img_scale=(1024, 800), keep_ratio=True),
    dict(type='RandomFlip', flip_ratio=0.5),
    dict(type='Normalize', **img_norm_cfg),
    dict(type='Pad', size_divisor=32),
    dict(type='DefaultFormatBundle'),
    dict(type='Collect', keys=['img', 'gt_bboxes', 'gt_labels']),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='MultiScaleFlipAug',
        img_scale=(1024, 800),
        flip=False,
        transforms=[
            dict(type='Resize', keep_ratio=True),
            dict(type='RandomFlip'),
            dict(type='Normalize', **img_norm_cfg),
            dict(type='Pad', size_divisor=32),
            dict(type='ImageToTensor', keys=['img']),
            dict(type='Collect', keys=['img']),
        ],
    ),
]
ann = data_root + 'annotations/'
labels = dict(
    label_file=ann + 'class-descriptions-boxable.csv',
    hierarchy_file=ann + 'bbox_labels_600_hierarchy.json',
)
validation = dict(
    type=dataset_type,
    ann_file=ann + 'validation-annotations-bbox.csv',
    img_prefix=data_root + 'OpenImages/validation/',
    meta_file=ann + 'validation-image-metas.pkl',
    image_level_ann_file=ann
    + 'validation-annotations-human-imagelabels-boxable.csv',
    pipeline=test_pipeline,
    **labels,
)
data = dict(
    samples_per_gpu=2,
    workers_per_gpu=0,  # more workers may run out of memory
    train=dict(
        type=dataset_type,
        ann_file=ann + 'oidv6-train-annotations-bbox.csv',
        img_prefix=data_root + 'OpenImages/train/',
        pipeline=train_pipeline,
        **labels,
    ),
    val=validation,
    test=validation,
)
evaluation = dict(interval=1, metric='mAP')
