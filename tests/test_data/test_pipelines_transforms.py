"""The data pipeline on a hand-made image: boxes and masks move exactly
with the image (resize, flips, padding), numbers match the reference."""

import copy
import json
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from mmcv.parallel import DataContainer

from mmdet.core.mask import BitmapMasks, PolygonMasks
from mmdet.datasets.pipelines import (
    Collect,
    Compose,
    DefaultFormatBundle,
    ImageToTensor,
    LoadAnnotations,
    LoadImageFromFile,
    MultiScaleFlipAug,
    Normalize,
    Pad,
    RandomFlip,
    Resize,
)
from mmdet.datasets.pipelines.transforms import bbox_flip

REFERENCE = osp.join(
    osp.dirname(osp.dirname(__file__)), 'data', 'reference', 'numerics.json'
)
MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]

# a 60 x 80 image with two boxes whose masks are exactly those rectangles
H, W = 60, 80
BOXES = np.array([[10, 5, 30, 25], [40, 20, 76, 56]], dtype=np.float32)


def rect_polygon(box):
    x1, y1, x2, y2 = box
    return [np.array([x1, y1, x2, y1, x2, y2, x1, y2], dtype=np.float64)]


def rect_bitmap(box, h=H, w=W):
    mask = np.zeros((h, w), np.uint8)
    x1, y1, x2, y2 = np.asarray(box).astype(int)
    mask[y1:y2, x1:x2] = 1
    return mask


def make_results(mask_kind='bitmap'):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(H, W, 3), dtype=np.uint8)
    if mask_kind == 'bitmap':
        masks = BitmapMasks([rect_bitmap(b) for b in BOXES], H, W)
    else:
        masks = PolygonMasks([rect_polygon(b) for b in BOXES], H, W)
    return dict(
        img=img,
        img_shape=img.shape,
        ori_shape=img.shape,
        img_fields=['img'],
        filename='x.jpg',
        ori_filename='x.jpg',
        gt_bboxes=BOXES.copy(),
        gt_labels=np.array([0, 1]),
        gt_masks=masks,
        bbox_fields=['gt_bboxes'],
        mask_fields=['gt_masks'],
        seg_fields=[],
    )


def mask_boxes(masks):
    """Tight pixel-edge boxes of binary masks, computed with numpy."""
    out = []
    for m in masks.to_ndarray():
        ys, xs = np.nonzero(m)
        out.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
    return np.array(out, dtype=np.float32)


# -- resize --------------------------------------------------------------


@pytest.mark.parametrize('mask_kind', ['bitmap', 'polygon'])
def test_resize_keep_ratio_rounding_and_targets(mask_kind):
    results = Resize(img_scale=(1333, 800), keep_ratio=True)(
        make_results(mask_kind)
    )
    # scale = min(1333 / 80, 800 / 60) = 13.33..; int(x * s + 0.5)
    s = min(1333 / 80, 800 / 60)
    new_w, new_h = int(W * s + 0.5), int(H * s + 0.5)
    assert (new_h, new_w) == (800, 1067)
    assert results['img'].shape == (new_h, new_w, 3)
    assert results['img_shape'] == results['pad_shape'] == (new_h, new_w, 3)
    expected_factor = np.array([new_w / W, new_h / H] * 2, dtype=np.float32)
    assert results['scale_factor'].dtype == np.float32
    np.testing.assert_array_equal(results['scale_factor'], expected_factor)
    np.testing.assert_allclose(
        results['gt_bboxes'], BOXES * expected_factor, rtol=1e-6
    )
    masks = results['gt_masks']
    assert (masks.height, masks.width) == (new_h, new_w)
    # the masks' extents follow the boxes to within a pixel
    np.testing.assert_allclose(
        mask_boxes(masks), results['gt_bboxes'], atol=1.0
    )


def test_resize_without_keep_ratio_and_clipping():
    results = make_results()
    results['gt_bboxes'] = np.array([[-5, -5, 90, 70]], np.float32)
    results['gt_labels'] = np.array([0])
    results['gt_masks'] = results['gt_masks'][[0]]
    out = Resize(img_scale=(40, 120), keep_ratio=False)(results)
    assert out['img'].shape == (120, 40, 3)  # scale is (w, h)
    np.testing.assert_allclose(out['scale_factor'], [0.5, 2, 0.5, 2])
    np.testing.assert_allclose(out['gt_bboxes'], [[0, 0, 40, 120]])
    assert out['gt_masks'].to_ndarray().shape == (1, 120, 40)


def test_resize_pad_match_reference():
    cases = json.load(open(REFERENCE))['resize_pad']['cases']
    pipeline = Compose(
        [
            dict(type='Resize', img_scale=(1333, 800), keep_ratio=True),
            dict(type='Pad', size_divisor=32),
        ]
    )
    for case in cases:
        h, w = case['ori_shape']
        img = np.zeros((h, w, 3), np.uint8)
        out = pipeline(
            dict(
                img=img,
                img_shape=img.shape,
                ori_shape=img.shape,
                img_fields=['img'],
            )
        )
        assert list(out['img_shape']) == case['img_shape']
        assert list(out['pad_shape']) == case['pad_shape']
        assert out['img'].shape == tuple(case['pad_shape'])
        np.testing.assert_allclose(
            out['scale_factor'], case['scale_factor'], atol=1e-4
        )


def test_resize_scale_choice_modes():
    np.random.seed(0)
    img = np.zeros((100, 200, 3), np.uint8)

    def scale_of(transform):
        results = dict(img=img, img_fields=['img'])
        transform(results)
        return results['scale']

    ranged = Resize(
        img_scale=[(1333, 640), (1333, 800)], multiscale_mode='range'
    )
    for _ in range(20):
        long_edge, short_edge = scale_of(ranged)
        assert long_edge == 1333 and 640 <= short_edge <= 800
    valued = Resize(img_scale=[(100, 50), (300, 150)], multiscale_mode='value')
    seen = {scale_of(valued) for _ in range(30)}
    assert seen == {(100, 50), (300, 150)}
    ratio = Resize(img_scale=(200, 100), ratio_range=(0.5, 1.5))
    for _ in range(20):
        long_edge, short_edge = scale_of(ratio)
        assert 100 <= long_edge <= 300 and 50 <= short_edge <= 150
        assert abs(long_edge - 2 * short_edge) <= 1  # int() of each side
    # a list of two numbers is refused as MMDetection refuses it (an
    # AssertionError there), with the fix in the message; lists of
    # two-number lists (JSON) are scales
    with pytest.raises(AssertionError, match=r'as a tuple \(200, 100\)'):
        Resize(img_scale=[200, 100])
    with pytest.raises(TypeError):
        MultiScaleFlipAug(transforms=[], img_scale=[200, 100])
    assert Resize(img_scale=[[1, 2], [3, 4]]).img_scale == [(1, 2), (3, 4)]
    with pytest.raises(TypeError):
        Resize(img_scale=[(1, 2, 3)])
    # MMDetection asserts these: both exception types are raised
    for bad in (
        dict(img_scale=[(1, 2), (3, 4)], ratio_range=(0.5, 1.5)),
        dict(img_scale=(1, 2), multiscale_mode='nope'),
    ):
        with pytest.raises(ValueError):
            Resize(**bad)
        with pytest.raises(AssertionError):
            Resize(**bad)


def test_resize_scale_from_results_and_override():
    img = np.zeros((50, 100, 3), np.uint8)
    fixed = dict(img=img, img_fields=['img'], scale=(200, 200))
    out = Resize(img_scale=(1000, 1000), keep_ratio=True)(fixed)
    assert out['img'].shape[:2] == (100, 200)  # scale came from results
    again = Resize(img_scale=(50, 50), keep_ratio=True, override=True)(out)
    assert again['img'].shape[:2] == (25, 50)
    factor = dict(img=img, img_fields=['img'], scale_factor=0.5)
    assert Resize(keep_ratio=True)(factor)['img'].shape[:2] == (25, 50)


# -- flip ----------------------------------------------------------------

EXPECTED_FLIPS = {
    # x -> W - x, y -> H - y on pixel edges (W = 80, H = 60)
    'horizontal': [[50, 5, 70, 25], [4, 20, 40, 56]],
    'vertical': [[10, 35, 30, 55], [40, 4, 76, 40]],
    'diagonal': [[50, 35, 70, 55], [4, 4, 40, 40]],
}


@pytest.mark.parametrize('direction', sorted(EXPECTED_FLIPS))
@pytest.mark.parametrize('mask_kind', ['bitmap', 'polygon'])
def test_flip_moves_boxes_and_masks_exactly(direction, mask_kind):
    results = make_results(mask_kind)
    img = results['img'].copy()
    out = RandomFlip(flip_ratio=1.0, direction=direction)(results)
    assert out['flip'] is True and out['flip_direction'] == direction
    np.testing.assert_array_equal(out['gt_bboxes'], EXPECTED_FLIPS[direction])
    axes = {'horizontal': (1,), 'vertical': (0,), 'diagonal': (0, 1)}[
        direction
    ]
    np.testing.assert_array_equal(out['img'], np.flip(img, axes))
    expected_masks = np.stack(
        [rect_bitmap(b) for b in EXPECTED_FLIPS[direction]]
    )
    np.testing.assert_array_equal(out['gt_masks'].to_ndarray(), expected_masks)


def test_flip_is_an_involution_and_bbox_flip_validates():
    for direction in EXPECTED_FLIPS:
        twice = bbox_flip(
            bbox_flip(BOXES, (H, W), direction), (H, W), direction
        )
        np.testing.assert_array_equal(twice, BOXES)
    with pytest.raises(ValueError):
        bbox_flip(BOXES, (H, W), 'sideways')


def test_random_flip_probabilities():
    np.random.seed(0)
    never = RandomFlip(flip_ratio=0.0)
    assert not any(never(make_results())['flip'] for _ in range(10))
    assert RandomFlip()(make_results())['flip'] is False
    both = RandomFlip(
        flip_ratio=[0.5, 0.5], direction=['horizontal', 'vertical']
    )
    seen = {both(make_results())['flip_direction'] for _ in range(40)}
    assert seen == {'horizontal', 'vertical'}
    shared = RandomFlip(flip_ratio=0.6, direction=['horizontal', 'vertical'])
    draws = [shared(make_results())['flip'] for _ in range(400)]
    assert 0.5 < np.mean(draws) < 0.7
    with pytest.raises(ValueError):
        RandomFlip(flip_ratio=1.5)
    with pytest.raises(ValueError):
        RandomFlip(flip_ratio=0.5, direction='sideways')


# -- pad -----------------------------------------------------------------


@pytest.mark.parametrize('mask_kind', ['bitmap', 'polygon'])
def test_pad_size_divisor_keeps_content_and_masks(mask_kind):
    results = make_results(mask_kind)
    img = results['img'].copy()
    out = Pad(size_divisor=32)(results)
    assert out['img'].shape == (64, 96, 3) == out['pad_shape']
    np.testing.assert_array_equal(out['img'][:H, :W], img)
    assert out['img'][H:].sum() == 0 and out['img'][:, W:].sum() == 0
    masks = out['gt_masks'].to_ndarray()
    assert masks.shape == (2, 64, 96)
    np.testing.assert_array_equal(
        masks, np.stack([rect_bitmap(b, 64, 96) for b in BOXES])
    )
    np.testing.assert_array_equal(out['gt_bboxes'], BOXES)


def test_pad_fixed_size_square_and_values():
    out = Pad(size=(70, 90), pad_val=dict(img=7, masks=0, seg=255))(
        make_results()
    )
    assert out['img'].shape == (70, 90, 3)
    assert (out['img'][H:] == 7).all()
    assert out['pad_fixed_size'] == (70, 90)
    square = Pad(pad_to_square=True)(make_results())
    assert square['img'].shape == (80, 80, 3)
    assert square['gt_masks'].to_ndarray().shape == (2, 80, 80)
    # a second image of another shape gets its own square
    tall = make_results()
    tall['img'] = np.zeros((90, 30, 3), np.uint8)
    assert Pad(pad_to_square=True)(tall)['img'].shape == (90, 90, 3)
    with pytest.raises(ValueError):
        Pad()
    with pytest.raises(ValueError):
        Pad(size=(1, 1), size_divisor=32)


# -- normalize, formatting, meta -----------------------------------------


def test_normalize_matches_reference():
    ref = json.load(open(REFERENCE))['normalize']
    img = np.array(ref['img'], dtype=np.uint8)
    out = Normalize(mean=MEAN, std=STD, to_rgb=True)(
        dict(img=img, img_fields=['img'])
    )
    np.testing.assert_allclose(out['img'], np.array(ref['out']), atol=1e-4)
    assert out['img'].dtype == np.float32
    np.testing.assert_array_equal(
        out['img_norm_cfg']['mean'], np.float32(MEAN)
    )
    assert out['img_norm_cfg']['to_rgb'] is True


def train_pipeline():
    return Compose(
        [
            dict(type='Resize', img_scale=(1333, 800), keep_ratio=True),
            dict(type='RandomFlip', flip_ratio=1.0, direction='horizontal'),
            dict(type='Normalize', mean=MEAN, std=STD, to_rgb=True),
            dict(type='Pad', size_divisor=32),
            dict(type='DefaultFormatBundle'),
            dict(
                type='Collect',
                keys=['img', 'gt_bboxes', 'gt_labels', 'gt_masks'],
            ),
        ]
    )


def test_full_train_pipeline_meta_and_containers():
    data = train_pipeline()(make_results())
    assert set(data) == {
        'img',
        'gt_bboxes',
        'gt_labels',
        'gt_masks',
        'img_metas',
    }
    assert all(isinstance(v, DataContainer) for v in data.values())
    meta = data['img_metas'].data
    assert data['img_metas'].cpu_only
    assert set(meta) == {
        'filename',
        'ori_filename',
        'ori_shape',
        'img_shape',
        'pad_shape',
        'scale_factor',
        'flip',
        'flip_direction',
        'img_norm_cfg',
    }
    assert meta['ori_shape'] == (H, W, 3)
    assert meta['img_shape'] == (800, 1067, 3)
    assert meta['pad_shape'] == (800, 1088, 3)
    assert meta['flip'] is True and meta['flip_direction'] == 'horizontal'
    img = data['img']
    assert img.stack and img.padding_value == 0
    assert img.data.shape == (3, 800, 1088) and img.data.dtype == torch.float32
    assert data['gt_masks'].cpu_only
    masks = data['gt_masks'].data
    assert (masks.height, masks.width) == (800, 1088)
    # boxes: scaled, then flipped in the resized (unpadded) image
    sf = meta['scale_factor']
    expected = bbox_flip(BOXES * sf, (800, 1067), 'horizontal')
    np.testing.assert_allclose(
        data['gt_bboxes'].data.numpy(), expected, rtol=1e-6
    )
    np.testing.assert_allclose(mask_boxes(masks), expected, atol=1.0)
    assert data['gt_labels'].data.tolist() == [0, 1]


def test_default_format_bundle_fills_missing_meta():
    img = np.zeros((4, 6, 3), np.uint8)
    out = DefaultFormatBundle()(dict(img=img))
    assert out['pad_shape'] == (4, 6, 3)
    assert out['scale_factor'] == 1.0
    assert out['img_norm_cfg']['to_rgb'] is False
    assert out['img'].data.dtype == torch.float32


def test_collect_custom_meta_and_missing_key():
    out = Collect(keys=['img'], meta_keys=('flip',))(
        dict(img=1, flip=False, other=2)
    )
    assert out['img_metas'].data == {'flip': False}
    with pytest.raises(KeyError, match='gt_bboxes'):
        Collect(keys=['gt_bboxes'])(dict(img=1))


def test_image_to_tensor_and_multi_scale_flip_aug():
    img = np.random.default_rng(1).integers(0, 255, (30, 40, 3), np.uint8)
    tta = MultiScaleFlipAug(
        img_scale=[(80, 60), (40, 30)],
        flip=True,
        flip_direction=['horizontal', 'vertical'],
        transforms=[
            dict(type='Resize', keep_ratio=True),
            dict(type='RandomFlip'),
            dict(type='ImageToTensor', keys=['img']),
            dict(type='Collect', keys=['img']),
        ],
    )
    out = tta(
        dict(
            img=img,
            img_shape=img.shape,
            ori_shape=img.shape,
            img_fields=['img'],
        )
    )
    assert len(out['img']) == 6  # 2 scales x (no flip + 2 flips)
    metas = [m.data for m in out['img_metas']]
    assert [m['flip_direction'] for m in metas] == [
        None,
        'horizontal',
        'vertical',
    ] * 2
    assert [tuple(t.shape) for t in out['img']] == [(3, 60, 80)] * 3 + [
        (3, 30, 40)
    ] * 3
    assert torch.equal(out['img'][1], out['img'][0].flip(2))
    single = ImageToTensor(keys=['img'])(dict(img=np.zeros((5, 7), np.uint8)))
    assert single['img'].shape == (1, 5, 7)
    with pytest.raises(ValueError):
        MultiScaleFlipAug(transforms=[], img_scale=(1, 1), scale_factor=1.0)


def test_compose_stops_on_none_and_rejects_bad_steps():
    calls = []
    pipeline = Compose([lambda r: None, lambda r: calls.append(r)])
    assert pipeline({}) is None and calls == []
    with pytest.raises(TypeError):
        Compose([3])
    with pytest.raises(KeyError, match='Resise'):
        Compose([dict(type='Resise')])


# -- loading -------------------------------------------------------------


def test_load_image_and_annotations(tmp_path):
    img = np.random.default_rng(2).integers(0, 255, (H, W, 3), np.uint8)
    mmcv.imwrite(img, str(tmp_path / 'a.png'))
    ann = dict(
        bboxes=BOXES,
        labels=np.array([2, 3]),
        bboxes_ignore=np.array([[0, 0, 5, 5]], np.float32),
        masks=[[rect_polygon(b)[0].tolist()] for b in BOXES],
    )
    results = dict(
        img_prefix=str(tmp_path),
        img_info=dict(filename='a.png', height=H, width=W),
        ann_info=ann,
        bbox_fields=[],
        mask_fields=[],
        seg_fields=[],
    )
    out = LoadImageFromFile(to_float32=True)(copy.deepcopy(results))
    assert out['img'].dtype == np.float32
    np.testing.assert_array_equal(out['img'], img.astype(np.float32))
    assert out['filename'] == str(tmp_path / 'a.png')
    assert out['ori_filename'] == 'a.png' and out['ori_shape'] == (H, W, 3)
    loaded = LoadAnnotations(with_mask=True)(out)
    assert loaded['bbox_fields'] == ['gt_bboxes', 'gt_bboxes_ignore']
    np.testing.assert_array_equal(loaded['gt_labels'], [2, 3])
    np.testing.assert_array_equal(
        loaded['gt_masks'].to_ndarray(),
        np.stack([rect_bitmap(b) for b in BOXES]),
    )
    polys = LoadAnnotations(with_mask=True, poly2mask=False)(
        copy.deepcopy(results)
    )
    assert isinstance(polys['gt_masks'], PolygonMasks)
    np.testing.assert_array_equal(
        polys['gt_masks'].to_ndarray(), loaded['gt_masks'].to_ndarray()
    )


def test_loading_errors_name_the_file(tmp_path):
    results = dict(
        img_prefix=str(tmp_path), img_info=dict(filename='missing.jpg')
    )
    with pytest.raises(FileNotFoundError, match='missing.jpg'):
        LoadImageFromFile()(results)
    (tmp_path / 'broken.jpg').write_bytes(b'not a jpeg at all')
    results['img_info'] = dict(filename='broken.jpg')
    with pytest.raises(OSError, match='broken.jpg'):
        LoadImageFromFile()(results)
