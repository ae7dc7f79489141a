"""Invariants of the geometric augmentations on random inputs: boxes,
labels and masks stay aligned, masks stay inside their boxes and boxes
inside the image (when clipping); plus the optional-package messages and
FilterAnnotations' edge cases."""

import copy

import numpy as np
import pytest
from pipeline_cases import make_results

from mmdet.core.mask.structures import BitmapMasks
from mmdet.datasets.pipelines import Compose
from mmdet.datasets.registry import PIPELINES

MASK_TRANSFORMS = [
    dict(type='RandomCrop', crop_size=(30, 36)),
    dict(type='RandomCrop', crop_size=(0.5, 0.7), crop_type='relative'),
    dict(type='RandomCrop', crop_size=(0.3, 0.3), crop_type='relative_range'),
    dict(type='RandomCrop', crop_size=(12, 40), crop_type='absolute_range'),
    dict(type='RandomCrop', crop_size=(24, 24), recompute_bbox=True),
    dict(type='MinIoURandomCrop'),
    dict(type='Expand', prob=1.0, seg_ignore_label=255),
    dict(type='Shear', level=8, prob=1.0),
    dict(type='Shear', level=8, prob=1.0, direction='vertical'),
    dict(type='Rotate', level=9, prob=1.0),
    dict(type='Translate', level=3, prob=1.0, max_translate_offset=60.0),
    dict(
        type='Translate',
        level=3,
        prob=1.0,
        direction='vertical',
        max_translate_offset=60.0,
    ),
]

BOX_TRANSFORMS = [
    dict(type='RandomShift', shift_ratio=1.0, max_shift_px=12),
    dict(type='RandomAffine', max_rotate_degree=30.0, skip_filter=False),
    dict(
        type='RandomCenterCropPad',
        crop_size=(32, 32),
        ratios=(0.8, 1.0),
        border=8,
        mean=[0, 0, 0],
        std=[1, 1, 1],
        to_rgb=True,
        test_pad_mode=None,
    ),
]

SEEDS = range(8)


def _check_aligned(results, mask_tol=None, clipped=True):
    boxes, labels = results['gt_bboxes'], results['gt_labels']
    h, w = results['img'].shape[:2]
    assert boxes.ndim == 2 and boxes.shape[1] == 4
    assert len(boxes) == len(labels)
    if clipped:
        assert (boxes[:, 0::2] >= 0).all() and (boxes[:, 0::2] <= w).all()
        assert (boxes[:, 1::2] >= 0).all() and (boxes[:, 1::2] <= h).all()
    if mask_tol is None:
        return
    masks = results['gt_masks']
    assert len(masks) == len(boxes)
    assert (masks.height, masks.width) == (h, w)
    for mask, box in zip(masks.masks, boxes):
        ys, xs = np.nonzero(mask)
        if len(xs) == 0:
            continue
        assert xs.min() >= box[0] - mask_tol and xs.max() + 1 <= box[2] + (
            mask_tol
        )
        assert ys.min() >= box[1] - mask_tol and ys.max() + 1 <= box[3] + (
            mask_tol
        )


def _run(cfg, results, seed):
    np.random.seed(seed)
    return PIPELINES.build(copy.deepcopy(cfg))(results)


@pytest.mark.parametrize('cfg', MASK_TRANSFORMS, ids=lambda c: c['type'])
def test_masks_stay_in_boxes(cfg):
    ran = 0
    for seed in SEEDS:
        results = make_results(50 + seed, BitmapMasks, n=2 + seed % 5)
        out = _run(cfg, results, seed)
        if out is None:  # a crop without objects, as MMDetection
            continue
        # interpolated masks may bleed a pixel past the warped box
        _check_aligned(out, mask_tol=2)
        ran += 1
    assert ran >= len(SEEDS) // 2


@pytest.mark.parametrize('cfg', BOX_TRANSFORMS, ids=lambda c: c['type'])
def test_boxes_stay_aligned(cfg):
    for seed in SEEDS:
        results = make_results(70 + seed, None, seg=False)
        if cfg['type'] == 'RandomCenterCropPad':
            results['img'] = results['img'].astype(np.float32)
        _check_aligned(_run(cfg, results, seed))


def test_random_crop_without_clipping_keeps_lengths():
    cfg = dict(
        type='RandomCrop',
        crop_size=(20, 20),
        bbox_clip_border=False,
        allow_negative_crop=True,
    )
    for seed in SEEDS:
        out = _run(cfg, make_results(seed, BitmapMasks), seed)
        _check_aligned(out, clipped=False)
        assert len(out['gt_masks']) == len(out['gt_bboxes'])


def _with_mix(seed, count, bitmap_cls):
    results = make_results(90 + seed, bitmap_cls, seg=False)
    results['mix_results'] = [
        make_results(190 + seed + k, bitmap_cls, seg=False, n=3)
        for k in range(count)
    ]
    return results


def test_mosaic_mixup_keep_boxes_in_canvas():
    mosaic = dict(type='Mosaic', img_scale=(32, 40))
    mixup = dict(type='MixUp', img_scale=(32, 40))
    for seed in SEEDS:
        out = _run(mosaic, _with_mix(seed, 3, None), seed)
        assert out['img'].shape[:2] == (64, 80)
        _check_aligned(out)
        out = _run(mixup, _with_mix(seed, 1, None), seed)
        _check_aligned(out)


def test_copy_paste_with_and_without_masks():
    cfg = dict(type='CopyPaste', mask_occluded_thr=20)
    for seed in SEEDS:
        out = _run(cfg, _with_mix(seed, 1, BitmapMasks), seed)
        _check_aligned(out, mask_tol=0)
        out = _run(cfg, _with_mix(seed, 1, None), seed)
        assert 'gt_masks' not in out
        _check_aligned(out)


def test_copy_paste_pastes_selected_pixels():
    """With selected=False every source object lands on top."""
    results = _with_mix(0, 1, BitmapMasks)
    src = results['mix_results'][0]
    pasted = src['gt_masks'].masks.any(0)
    out = _run(dict(type='CopyPaste', selected=False), results, 0)
    np.testing.assert_array_equal(out['img'][pasted], src['img'][pasted])
    n_src = len(src['gt_bboxes'])
    np.testing.assert_array_equal(out['gt_labels'][-n_src:], src['gt_labels'])


@pytest.mark.parametrize(
    'cfg, package',
    [
        (dict(type='Albu', transforms=[dict(type='Blur')]), 'albumentations'),
        (dict(type='InstaBoost'), 'instaboostfast'),
    ],
)
def test_optional_packages_say_how_to_install(cfg, package):
    try:
        __import__(package)
    except ImportError:
        with pytest.raises(ImportError, match=f'pip install {package}'):
            PIPELINES.build(cfg)
    else:
        PIPELINES.build(cfg)


def test_filter_annotations_edge_cases():
    keep_all = dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1))
    empty = make_results(3, BitmapMasks, n=0)
    assert PIPELINES.build(keep_all)(empty) is empty
    drop_all = dict(type='FilterAnnotations', min_gt_bbox_wh=(1e3, 1e3))
    assert PIPELINES.build(drop_all)(make_results(3, BitmapMasks)) is None
    drop_all['keep_empty'] = False
    out = PIPELINES.build(drop_all)(make_results(3, BitmapMasks))
    assert len(out['gt_bboxes']) == len(out['gt_masks']) == 0


def test_auto_augment_runs_one_policy_inside_compose():
    pipeline = Compose(
        [
            dict(
                type='AutoAugment',
                policies=[
                    [dict(type='Rotate', level=5, prob=1.0)],
                    [dict(type='EqualizeTransform', prob=1.0)],
                ],
            )
        ]
    )
    for seed in SEEDS:
        np.random.seed(seed)
        out = pipeline(make_results(seed, BitmapMasks))
        _check_aligned(out, mask_tol=2)


# every pipeline step named by MMDetection 2.28.2's configs (train and
# test pipelines, AutoAugment policies and MultiScaleFlipAug transforms),
# except LoadPanopticAnnotations, which comes with the panoptic data set
CONFIG_PIPELINE_TYPES = (
    'Albu AutoAugment Collect CopyPaste DefaultFormatBundle Expand '
    'FilterAnnotations ImageToTensor InstaBoost LoadAnnotations '
    'LoadImageFromFile LoadProposals MinIoURandomCrop MixUp Mosaic '
    'MultiScaleFlipAug Normalize Pad PhotoMetricDistortion RandomAffine '
    'RandomCenterCropPad RandomCrop RandomFlip RandomShift Resize SegRescale '
    'ToDataContainer ToTensor YOLOXHSVRandomAug LoadImageFromWebcam'
).split()


def test_config_pipeline_types_are_registered():
    missing = [t for t in CONFIG_PIPELINE_TYPES if t not in PIPELINES]
    assert missing == []


def test_load_multi_channel_image_stacks_files(tmp_path):
    import mmcv

    rng = np.random.default_rng(0)
    planes = [rng.integers(0, 256, (5, 7), dtype=np.uint8) for _ in range(3)]
    names = []
    for i, plane in enumerate(planes):
        names.append(f'band{i}.png')
        mmcv.imwrite(plane, str(tmp_path / names[-1]))
    load = PIPELINES.build(
        dict(type='LoadMultiChannelImageFromFiles', to_float32=True)
    )
    out = load(dict(img_prefix=str(tmp_path), img_info=dict(filename=names)))
    assert out['img'].dtype == np.float32 and out['img'].shape == (5, 7, 3)
    np.testing.assert_array_equal(out['img'], np.stack(planes, -1))
    assert out['scale_factor'] == 1.0
    np.testing.assert_array_equal(out['img_norm_cfg']['std'], np.ones(3))


def _overlaps_image(boxes, h, w):
    return (
        (boxes[:, 0] < w) & (boxes[:, 2] > 0) & (boxes[:, 1] < h)
        & (boxes[:, 3] > 0)
    )  # fmt: skip


@pytest.mark.parametrize(
    'cfg, mixes',
    [
        (dict(type='Mosaic', img_scale=(24, 32)), 3),
        (dict(type='MixUp', img_scale=(48, 64), ratio_range=(1.5, 2.0)), 1),
        (dict(type='RandomAffine', max_translate_ratio=0.4), 0),
    ],
    ids=['Mosaic', 'MixUp', 'RandomAffine'],
)
def test_unclipped_boxes_still_touch_the_image(cfg, mixes):
    cfg = dict(cfg, bbox_clip_border=False)
    outside = 0
    for seed in SEEDS:
        out = _run(cfg, _with_mix(seed, mixes, None), seed)
        _check_aligned(out, clipped=False)
        h, w = out['img'].shape[:2]
        boxes = out['gt_bboxes']
        assert _overlaps_image(boxes, h, w).all()
        outside += int(
            ((boxes[:, :2] < 0) | (boxes[:, 2:] > [w, h])).any(1).sum()
        )
    assert outside > 0  # the case without clipping was exercised
