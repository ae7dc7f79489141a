"""Seeded inputs and output summaries shared by the pipeline tests and the
script that recorded MMDetection 2.28.2's outputs for the same inputs
(tests/data/pipelines_mmdet228.json). Plain numpy only: the mask classes
are passed in, so MMDetection's and ours see identical data."""

import numpy as np

H, W = 48, 64


def make_results(
    seed, bitmap_cls, polygon_cls=None, n=4, seg=True, float_img=False
):
    """A sample with ``n`` boxes, labels, masks inside the boxes and a seg
    map, all drawn from ``seed`` (independent of np.random's state)."""
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (H, W, 3)).astype(np.uint8)
    x1 = rng.integers(0, W - 12, n)
    y1 = rng.integers(0, H - 12, n)
    x2 = x1 + rng.integers(6, 24, n)
    y2 = y1 + rng.integers(6, 20, n)
    boxes = np.stack([x1, y1, np.minimum(x2, W), np.minimum(y2, H)], 1).astype(
        np.float32
    )
    labels = rng.integers(0, 5, n).astype(np.int64)
    masks = np.zeros((n, H, W), np.uint8)
    polys = []
    for i, (a, b, c, d) in enumerate(boxes.astype(int)):
        masks[i, b + 1 : d - 1, a + 1 : c - 1] = 1
        polys.append(
            [
                np.array(
                    [a + 1, b + 1, c - 1, b + 1, c - 1, d - 1, a + 1, d - 1],
                    dtype=np.float64,
                )
            ]
        )
    results = dict(
        img=img.astype(np.float32) if float_img else img,
        img_shape=(H, W, 3),
        ori_shape=(H, W, 3),
        img_fields=['img'],
        gt_bboxes=boxes,
        gt_labels=labels,
        bbox_fields=['gt_bboxes'],
    )
    if polygon_cls is not None:
        results['gt_masks'] = polygon_cls(polys, H, W)
        results['mask_fields'] = ['gt_masks']
    elif bitmap_cls is not None:
        results['gt_masks'] = bitmap_cls(masks, H, W)
        results['mask_fields'] = ['gt_masks']
    if seg:
        results['gt_semantic_seg'] = rng.integers(0, 10, (H, W)).astype(
            np.uint8
        )
        results['seg_fields'] = ['gt_semantic_seg']
    return results


def case_inputs_polygons(boxes):
    """COCO-style polygon lists, one rectangle inside each box."""
    return [
        [[a + 1, b + 1, c - 1, b + 1, c - 1, d - 1, a + 1, d - 1]]
        for a, b, c, d in boxes.astype(float).tolist()
    ]


def image_digest(img):
    """Sum and an index-weighted sum (float64): equal only when the pixels
    are equal up to rounding."""
    x = np.asarray(img, dtype=np.float64)
    weights = (np.arange(x.size) % 7 + 1).reshape(x.shape)
    return [float(x.sum()), float((x * weights).sum())]


def summarize(results):
    """JSON-able numbers describing a transform's output."""
    if results is None:
        return {'none': True}
    out = {
        'img_shape': list(results['img'].shape),
        'img': image_digest(results['img']),
    }
    for key in ('gt_bboxes', 'gt_bboxes_ignore'):
        if key in results:
            out[key] = np.asarray(results[key], np.float64).tolist()
    if 'gt_labels' in results:
        out['gt_labels'] = np.asarray(results['gt_labels']).tolist()
    if results.get('gt_masks') is not None:
        masks = results['gt_masks']
        out['masks'] = {
            'type': type(masks).__name__,
            'size': [int(masks.height), int(masks.width)],
            'areas': np.asarray(masks.areas, np.float64).tolist(),
        }
    if 'gt_semantic_seg' in results:
        seg = results['gt_semantic_seg']
        out['seg'] = {'shape': list(seg.shape), 'digest': image_digest(seg)}
    if 'ann_info' in results:
        info = results['ann_info']
        out['ann_bboxes'] = np.asarray(info['bboxes'], np.float64).tolist()
        out['ann_labels'] = np.asarray(info['labels']).tolist()
        out['ann_masks'] = len(info['masks'])
    for key in ('img_shape', 'pad_shape', 'border'):
        if key in results:
            out['key_' + key] = np.asarray(results[key], np.float64).tolist()
    return out


# name: (transform config, input options, mix count)
CASES = {
    'RandomCrop/absolute': (
        dict(type='RandomCrop', crop_size=(32, 40)),
        {},
        0,
    ),
    'RandomCrop/relative': (
        dict(type='RandomCrop', crop_size=(0.5, 0.6), crop_type='relative'),
        {},
        0,
    ),
    'RandomCrop/relative_range': (
        dict(
            type='RandomCrop',
            crop_size=(0.3, 0.4),
            crop_type='relative_range',
            allow_negative_crop=True,
        ),
        {},
        0,
    ),
    'RandomCrop/absolute_range': (
        dict(
            type='RandomCrop',
            crop_size=(16, 40),
            crop_type='absolute_range',
            recompute_bbox=True,
        ),
        {},
        0,
    ),
    'RandomCrop/noclip_poly': (
        dict(
            type='RandomCrop',
            crop_size=(30, 30),
            bbox_clip_border=False,
            allow_negative_crop=True,
        ),
        {'polygon': True},
        0,
    ),
    'SegRescale': (dict(type='SegRescale', scale_factor=0.5), {}, 0),
    'PhotoMetricDistortion': (dict(type='PhotoMetricDistortion'), {}, 0),
    'Expand': (
        dict(
            type='Expand',
            mean=(123.675, 116.28, 103.53),
            to_rgb=True,
            ratio_range=(1, 3),
            seg_ignore_label=255,
            prob=0.9,
        ),
        {},
        0,
    ),
    'MinIoURandomCrop': (
        dict(
            type='MinIoURandomCrop',
            min_ious=(0.1, 0.3, 0.5),
            min_crop_size=0.3,
        ),
        {},
        0,
    ),
    'RandomCenterCropPad/train': (
        dict(
            type='RandomCenterCropPad',
            crop_size=(40, 40),
            ratios=(0.6, 0.8, 1.0),
            border=16,
            mean=[1.0, 2.0, 3.0],
            std=[1.0, 1.0, 1.0],
            to_rgb=True,
            test_pad_mode=None,
        ),
        {'float': True, 'masks': False, 'seg': False},
        0,
    ),
    'RandomCenterCropPad/test': (
        dict(
            type='RandomCenterCropPad',
            crop_size=None,
            ratios=None,
            border=None,
            mean=[1.0, 2.0, 3.0],
            std=[1.0, 1.0, 1.0],
            to_rgb=False,
            test_mode=True,
            test_pad_mode=['logical_or', 31],
            test_pad_add_pix=1,
        ),
        {'float': True, 'masks': False, 'seg': False},
        0,
    ),
    'CutOut/shape': (
        dict(type='CutOut', n_holes=(1, 4), cutout_shape=[(4, 4), (8, 6)]),
        {},
        0,
    ),
    'CutOut/ratio': (
        dict(
            type='CutOut',
            n_holes=2,
            cutout_ratio=(0.2, 0.3),
            fill_in=(255, 0, 0),
        ),
        {},
        0,
    ),
    'RandomShift': (
        dict(type='RandomShift', shift_ratio=0.8, max_shift_px=10),
        {'masks': False},
        0,
    ),
    'Mosaic': (
        dict(
            type='Mosaic',
            img_scale=(40, 48),
            skip_filter=False,
            min_bbox_size=2,
        ),
        {'masks': False, 'seg': False},
        3,
    ),
    'MixUp': (
        dict(
            type='MixUp',
            img_scale=(40, 48),
            ratio_range=(0.8, 1.6),
            skip_filter=False,
        ),
        {'masks': False, 'seg': False},
        1,
    ),
    'RandomAffine': (
        dict(
            type='RandomAffine',
            max_rotate_degree=20.0,
            max_shear_degree=5.0,
            skip_filter=False,
            border=(-4, 6),
        ),
        {'masks': False, 'seg': False},
        0,
    ),
    'YOLOXHSVRandomAug': (dict(type='YOLOXHSVRandomAug'), {'masks': False}, 0),
    'CopyPaste/masks': (
        dict(type='CopyPaste', max_num_pasted=3, mask_occluded_thr=20),
        {'seg': False},
        1,
    ),
    'CopyPaste/boxes': (
        dict(
            type='CopyPaste',
            bbox_occluded_thr=3,
            mask_occluded_thr=30,
            selected=False,
        ),
        {'masks': False, 'seg': False},
        1,
    ),
    'Shear': (
        dict(type='Shear', level=6, prob=0.9, img_fill_val=(1, 2, 3)),
        {},
        0,
    ),
    'Shear/vertical_poly': (
        dict(type='Shear', level=4, prob=1.0, direction='vertical'),
        {'polygon': True},
        0,
    ),
    'Rotate': (
        dict(type='Rotate', level=7, prob=0.9, max_rotate_angle=40),
        {},
        0,
    ),
    'Rotate/poly_scale': (
        dict(type='Rotate', level=3, prob=1.0, scale=0.8, center=(20, 30)),
        {'polygon': True},
        0,
    ),
    'Translate': (
        dict(
            type='Translate',
            level=5,
            prob=0.9,
            max_translate_offset=30.0,
            min_size=2,
        ),
        {},
        0,
    ),
    'Translate/vertical_poly': (
        dict(
            type='Translate',
            level=2,
            prob=1.0,
            direction='vertical',
            max_translate_offset=50.0,
        ),
        {'polygon': True},
        0,
    ),
    'ColorTransform': (dict(type='ColorTransform', level=3, prob=1.0), {}, 0),
    'BrightnessTransform': (
        dict(type='BrightnessTransform', level=8, prob=1.0),
        {},
        0,
    ),
    'ContrastTransform': (
        dict(type='ContrastTransform', level=2, prob=1.0),
        {},
        0,
    ),
    'EqualizeTransform': (dict(type='EqualizeTransform', prob=0.7), {}, 0),
    'AutoAugment': (
        dict(
            type='AutoAugment',
            policies=[
                [
                    dict(type='Shear', level=5, prob=1.0),
                    dict(type='ColorTransform', level=4, prob=0.6),
                ],
                [
                    dict(type='Rotate', level=4, prob=0.7),
                    dict(type='Translate', level=6, prob=0.8),
                ],
                [
                    dict(
                        type='RandomCrop',
                        crop_size=(30, 40),
                        allow_negative_crop=True,
                    ),
                    dict(type='BrightnessTransform', level=3, prob=0.5),
                ],
            ],
        ),
        {},
        0,
    ),
    'Albu': (
        dict(
            type='Albu',
            transforms=[
                dict(
                    type='ShiftScaleRotate',
                    shift_limit=0.1,
                    scale_limit=0.2,
                    rotate_limit=20,
                    border_mode=0,
                    p=1.0,
                ),
                dict(type='RandomBrightnessContrast', p=0.8),
                dict(type='HorizontalFlip', p=0.5),
            ],
            bbox_params=dict(
                type='BboxParams',
                format='pascal_voc',
                label_fields=['gt_labels'],
                min_visibility=0.3,
                filter_lost_elements=True,
            ),
            keymap=dict(img='image', gt_masks='masks', gt_bboxes='bboxes'),
            update_pad_shape=True,
            skip_img_without_anno=True,
        ),
        {'seg': False, 'optional': 'albumentations'},
        0,
    ),
    'InstaBoost': (
        dict(type='InstaBoost', aug_ratio=0.7, color_prob=0.5),
        {'ann_info': True, 'optional': 'instaboostfast'},
        0,
    ),
    'FilterAnnotations': (
        dict(
            type='FilterAnnotations',
            min_gt_bbox_wh=(8, 8),
            by_mask=True,
            min_gt_mask_area=60,
            keep_empty=False,
        ),
        {},
        0,
    ),
}

SEEDS = (0, 1, 2, 3, 4)


def case_inputs(name, seed, bitmap_cls, polygon_cls):
    """The results dict (with ``mix_results``) a case runs on."""
    cfg, opts, mixes = CASES[name]
    kw = dict(seg=opts.get('seg', True), float_img=opts.get('float', False))
    masks = opts.get('masks', True)
    poly = polygon_cls if opts.get('polygon') else None
    base = 1000 * (seed + 1)
    results = make_results(base, bitmap_cls if masks else None, poly, **kw)
    if opts.get('ann_info'):
        polys = case_inputs_polygons(results['gt_bboxes'])
        results = dict(
            img=results['img'],
            ann_info=dict(
                bboxes=results['gt_bboxes'],
                labels=results['gt_labels'],
                masks=polys,
            ),
        )
    if mixes:
        results['mix_results'] = [
            make_results(
                base + k + 1,
                bitmap_cls if masks else None,
                None,
                n=3 + k,
                **kw,
            )
            for k in range(mixes)
        ]
    return results
