"""Training pipelines as MMDetection 2.28's configs write them (SSD, DETR's
AutoAugment, CornerNet, the large-scale-jitter Mask R-CNN, YOLOX without
its mixing wrapper) run end to end on the tiny COCO set."""

import numpy as np
import pytest

from mmdet.datasets import CocoDataset

NORM = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375])
FORMAT = [
    dict(type='DefaultFormatBundle'),
    dict(type='Collect', keys=['img', 'gt_bboxes', 'gt_labels']),
]

SSD = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Expand', mean=NORM['mean'], to_rgb=True, ratio_range=(1, 4)),
    dict(
        type='MinIoURandomCrop',
        min_ious=(0.1, 0.3, 0.5, 0.7, 0.9),
        min_crop_size=0.3,
    ),
    dict(type='Resize', img_scale=(300, 300), keep_ratio=False),
    dict(type='RandomFlip', flip_ratio=0.5),
    dict(
        type='PhotoMetricDistortion',
        brightness_delta=32,
        contrast_range=(0.5, 1.5),
        saturation_range=(0.5, 1.5),
        hue_delta=18,
    ),
    dict(type='Normalize', **NORM, to_rgb=True),
    *FORMAT,
]

DETR = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomFlip', flip_ratio=0.5),
    dict(
        type='AutoAugment',
        policies=[
            [dict(type='Resize', img_scale=[(96, 160), (128, 160)],
                  multiscale_mode='value', keep_ratio=True)],
            [
                dict(type='Resize', img_scale=[(80, 160), (100, 160)],
                     multiscale_mode='value', keep_ratio=True),
                dict(type='RandomCrop', crop_type='absolute_range',
                     crop_size=(48, 80), allow_negative_crop=True),
                dict(type='Resize', img_scale=[(96, 160), (128, 160)],
                     multiscale_mode='value', override=True, keep_ratio=True),
            ],
        ],
    ),
    dict(type='Normalize', **NORM, to_rgb=True),
    dict(type='Pad', size_divisor=1),
    *FORMAT,
]  # fmt: skip

CORNERNET = [
    dict(type='LoadImageFromFile', to_float32=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PhotoMetricDistortion', brightness_delta=32),
    dict(
        type='RandomCenterCropPad',
        crop_size=(96, 96),
        ratios=(0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3),
        test_mode=False,
        test_pad_mode=None,
        **NORM,
        to_rgb=True,
    ),
    dict(type='Resize', img_scale=(96, 96), keep_ratio=False),
    dict(type='RandomFlip', flip_ratio=0.5),
    dict(type='Normalize', **NORM, to_rgb=True),
    *FORMAT,
]

LSJ_MASK = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='Resize',
        img_scale=(96, 96),
        ratio_range=(0.1, 2.0),
        multiscale_mode='range',
        keep_ratio=True,
    ),
    dict(
        type='RandomCrop',
        crop_type='absolute_range',
        crop_size=(96, 96),
        recompute_bbox=True,
        allow_negative_crop=True,
    ),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-2, 1e-2)),
    dict(type='RandomFlip', flip_ratio=0.5),
    dict(type='Normalize', **NORM, to_rgb=True),
    dict(type='Pad', size=(96, 96)),
    dict(type='DefaultFormatBundle'),
    dict(type='Collect', keys=['img', 'gt_bboxes', 'gt_labels', 'gt_masks']),
]

YOLOX_TAIL = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomAffine', scaling_ratio_range=(0.1, 2), border=(-8, -8)),
    dict(type='YOLOXHSVRandomAug'),
    dict(type='RandomFlip', flip_ratio=0.5),
    dict(type='Resize', img_scale=(64, 64), keep_ratio=True),
    dict(
        type='Pad',
        pad_to_square=True,
        pad_val=dict(img=(114.0, 114.0, 114.0)),
    ),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1), keep_empty=False),
    *FORMAT,
]


@pytest.mark.parametrize(
    'pipeline',
    [SSD, DETR, CORNERNET, LSJ_MASK, YOLOX_TAIL],
    ids=['ssd', 'detr', 'cornernet', 'lsj_mask', 'yolox'],
)
def test_config_pipeline_on_tiny_coco(tiny_coco, tiny_classes, pipeline):
    np.random.seed(0)
    dataset = CocoDataset(
        str(tiny_coco / 'annotations' / 'instances_train.json'),
        pipeline,
        classes=tiny_classes,
        img_prefix=str(tiny_coco / 'train'),
    )
    for i in range(4):
        data = dataset[i]
        img = data['img'].data
        boxes = data['gt_bboxes'].data
        assert img.ndim == 3 and img.shape[0] == 3
        assert boxes.shape[1] == 4
        assert len(boxes) == len(data['gt_labels'].data)
        h, w = data['img_metas'].data['img_shape'][:2]
        assert (boxes[:, 0::2] <= w + 1e-3).all()
        assert (boxes[:, 1::2] <= h + 1e-3).all()
        assert (boxes >= -1e-3).all()
        if 'gt_masks' in data:
            masks = data['gt_masks'].data
            assert len(masks) == len(boxes)
            assert masks.masks.shape[1:] == img.shape[1:]
