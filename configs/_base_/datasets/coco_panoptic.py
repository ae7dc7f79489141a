# COCO panoptic: the panoptic json + pngs for training and PQ; things carry
# boxes and masks, every pixel a class in gt_semantic_seg (1/4 scale here).
dataset_type = 'CocoPanopticDataset'
data_root = 'data/coco/'
img_norm_cfg = dict(
    mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True
)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='LoadPanopticAnnotations',
        with_bbox=True,
        with_mask=True,
        with_seg=True,
    ),
    dict(type='Resize', img_scale=(1333, 800), keep_ratio=True),
    dict(type='RandomFlip', flip_ratio=0.5),
    dict(type='Normalize', **img_norm_cfg),
    dict(type='Pad', size_divisor=32),
    dict(type='SegRescale', scale_factor=1 / 4),
    dict(type='DefaultFormatBundle'),
    dict(
        type='Collect',
        keys=['img', 'gt_bboxes', 'gt_labels', 'gt_masks', 'gt_semantic_seg'],
    ),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='MultiScaleFlipAug',
        img_scale=(1333, 800),
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


def _split(name, pipeline):
    return dict(
        type=dataset_type,
        ann_file=data_root + f'annotations/panoptic_{name}2017.json',
        img_prefix=data_root + f'{name}2017/',
        seg_prefix=data_root + f'annotations/panoptic_{name}2017/',
        pipeline=pipeline,
    )


data = dict(
    samples_per_gpu=2,
    workers_per_gpu=2,
    train=_split('train', train_pipeline),
    val=_split('val', test_pipeline),
    test=_split('val', test_pipeline),
)
evaluation = dict(interval=1, metric=['PQ'])
