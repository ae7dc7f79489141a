"""Faults in data, annotation and image files, generated on the fly and fed
through the public entry points (CocoDataset / CustomDataset /
build_dataset, tools/train.py, inference_detector): each must stop with an
error naming the file (and the image, annotation or key), never run code
from a data file and never train or evaluate silently on garbage."""

import copy
import json
import os
import os.path as osp
import pickle
import re
import subprocess
import sys
import warnings

import cv2
import mmcv
import numpy as np
import pytest
import torch

from mmdet.apis import inference_detector, init_detector
from mmdet.datasets import CocoDataset, CustomDataset, build_dataset

ROOT = osp.dirname(osp.dirname(osp.dirname(__file__)))
CONFIG = osp.join(
    ROOT, 'tests', 'data', 'configs', 'micro_mask_rcnn_tiny_coco.py'
)
CLASSES = ('circle', 'square', 'triangle', 'cross')
SIZE = 64


def square(x, y, side):
    """A polygon [x1, y1, ...] of an axis-aligned square."""
    return [x, y, x + side, y, x + side, y + side, x, y + side]


def make_coco(root, num_images=4, width=SIZE, height=SIZE):
    """Write ``num_images`` images with one or two squares each and their
    COCO file under ``root``; returns (annotation dict, image folder)."""
    img_dir = osp.join(root, 'images')
    os.makedirs(img_dir, exist_ok=True)
    images, anns = [], []
    for i in range(num_images):
        name = f'{i:03d}.png'
        img = np.full((height, width, 3), 40, dtype=np.uint8)
        for k in range(1 + i % 2):
            x, y, side = 8 + 24 * k, 10 + 4 * k, 16
            img[y : y + side, x : x + side] = (0, 200, 0)
            anns.append(
                dict(
                    id=len(anns) + 1,
                    image_id=i + 1,
                    category_id=k + 1,
                    bbox=[x, y, side, side],
                    area=side * side,
                    iscrowd=0,
                    segmentation=[square(x, y, side)],
                )
            )
        cv2.imwrite(osp.join(img_dir, name), img)
        images.append(
            dict(id=i + 1, file_name=name, width=width, height=height)
        )
    categories = [dict(id=i + 1, name=n) for i, n in enumerate(CLASSES)]
    return dict(
        images=images, annotations=anns, categories=categories
    ), img_dir


def write_json(path, content):
    with open(path, 'w') as f:
        json.dump(content, f)
    return str(path)


def coco_cfg(ann_file, img_dir, **kwargs):
    return dict(
        type='CocoDataset',
        classes=CLASSES,
        ann_file=str(ann_file),
        img_prefix=img_dir + '/',
        pipeline=kwargs.pop('pipeline', []),
        **kwargs,
    )


@pytest.fixture(scope='module')
def coco(tmp_path_factory):
    """(annotation dict, image folder, tmp folder) of a valid set; copy
    the dict before changing it."""
    root = tmp_path_factory.mktemp('coco')
    content, img_dir = make_coco(str(root))
    return content, img_dir, root


# -- 1. no code from data files -------------------------------------------


class _RunsCode:
    """Unpickling this writes ``marker`` (it could as well run anything)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f'open({self.marker!r}, "w").close()',))


def evil_pickle(tmp_path, name='evil.pkl'):
    marker = str(tmp_path / 'code_ran')
    path = str(tmp_path / name)
    with open(path, 'wb') as f:
        pickle.dump([_RunsCode(marker)], f)
    return path, marker


def test_annotation_pickle_runs_no_code(tmp_path):
    path, marker = evil_pickle(tmp_path)
    with pytest.raises(pickle.UnpicklingError, match='evil.pkl') as err:
        CustomDataset(ann_file=path, pipeline=[], classes=CLASSES)
    assert 'exec' in str(err.value)
    assert not osp.exists(marker)


def test_proposal_pickle_runs_no_code(coco, tmp_path):
    content, img_dir, _ = coco
    ann_file = write_json(tmp_path / 'a.json', content)
    path, marker = evil_pickle(tmp_path, 'proposals.pkl')
    with pytest.raises(pickle.UnpicklingError, match='proposals.pkl'):
        build_dataset(
            coco_cfg(ann_file, img_dir, proposal_file=path, test_mode=True)
        )
    assert not osp.exists(marker)


def test_annotation_yaml_runs_no_code(tmp_path):
    marker = str(tmp_path / 'code_ran')
    path = tmp_path / 'ann.yaml'
    path.write_text(
        '- !!python/object/apply:builtins.exec\n'
        f'  - open({marker!r}, "w").close()\n'
    )
    with pytest.raises(ValueError, match='ann.yaml'):
        CustomDataset(ann_file=str(path), pipeline=[], classes=CLASSES)
    assert not osp.exists(marker)


@pytest.mark.parametrize('data', [b'', b'\x80\x02]q\x00(K\x01'])
def test_empty_or_truncated_pickle_named(tmp_path, data):
    path = tmp_path / 'ann.pkl'
    path.write_bytes(data)
    with pytest.raises(pickle.UnpicklingError, match=r'ann\.pkl.*truncated'):
        CustomDataset(ann_file=str(path), pipeline=[], classes=CLASSES)


def test_data_pickles_still_load(coco, tmp_path):
    """Middle-format annotations and proposals written by mmcv.dump (numpy
    arrays in lists and dicts) load as before."""
    infos = [
        dict(
            filename='000.png',
            width=SIZE,
            height=SIZE,
            ann=dict(
                bboxes=np.array([[8, 10, 24, 26]], np.float32),
                labels=np.array([1]),
            ),
        )
    ]
    mmcv.dump(infos, str(tmp_path / 'ann.pkl'))
    dataset = CustomDataset(
        ann_file=str(tmp_path / 'ann.pkl'),
        pipeline=[],
        classes=CLASSES,
        test_mode=True,
    )
    np.testing.assert_array_equal(dataset.get_ann_info(0)['labels'], [1])

    content, img_dir, _ = coco
    ann_file = write_json(tmp_path / 'a.json', content)
    proposals = [np.random.rand(3, 5).astype(np.float32) for _ in range(3)]
    proposals.append(np.zeros((0, 5), np.float32))  # pickles differently
    mmcv.dump(proposals, str(tmp_path / 'p.pkl'))
    dataset = build_dataset(
        coco_cfg(
            ann_file,
            img_dir,
            test_mode=True,
            proposal_file=str(tmp_path / 'p.pkl'),
        )
    )
    np.testing.assert_array_equal(dataset.proposals[2], proposals[2])


# -- 3. empty training set ------------------------------------------------


def _no_annotations(content):
    content['annotations'] = []


def _unknown_categories(content):
    content['categories'].append(dict(id=9, name='hexagon'))
    for ann in content['annotations']:
        ann['category_id'] = 9


def _images_too_small(content):
    for img in content['images']:
        img['width'] = img['height'] = 16


def _boxes_too_small(content):
    for ann in content['annotations']:
        ann['bbox'][2] = 0.5


@pytest.mark.parametrize(
    'breakage, reason',
    [
        (_no_annotations, 'no annotation'),
        (_unknown_categories, 'hexagon'),
        (_images_too_small, '32'),
        (_boxes_too_small, '6 annotations have a box under 1 pixel'),
    ],
)
def test_empty_training_set_is_an_error(coco, tmp_path, breakage, reason):
    content, img_dir, _ = coco
    content = copy.deepcopy(content)
    breakage(content)
    ann_file = write_json(tmp_path / 'a.json', content)
    with pytest.raises(ValueError) as err:
        build_dataset(coco_cfg(ann_file, img_dir))
    message = str(err.value)
    assert 'a.json' in message
    assert re.search(r'\b4 (training )?images', message)
    assert reason in message
    # the same file is fine for testing (nothing is filtered there)
    assert len(build_dataset(coco_cfg(ann_file, img_dir, test_mode=True))) == 4


def test_train_tool_stops_on_empty_training_set(coco, tmp_path):
    content, img_dir, _ = coco
    content = copy.deepcopy(content)
    _unknown_categories(content)
    ann_file = write_json(tmp_path / 'a.json', content)
    work_dir = tmp_path / 'work'
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [
            sys.executable,
            'tools/train.py',
            CONFIG,
            '--work-dir',
            str(work_dir),
            '--no-validate',
            '--cfg-options',
            f'data.train.ann_file={ann_file}',
            f'data.train.img_prefix={img_dir}/',
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode != 0
    assert 'no training images' in proc.stderr
    assert 'hexagon' in proc.stderr
    assert not [f for f in os.listdir(work_dir) if f.endswith('.pth')]


# -- 4. duplicate image ids -----------------------------------------------


def test_duplicate_image_ids_are_an_error(coco, tmp_path):
    content, img_dir, _ = coco
    content = copy.deepcopy(content)
    content['images'][2]['id'] = content['images'][1]['id']
    ann_file = write_json(tmp_path / 'dup.json', content)
    with pytest.raises(ValueError, match=r'dup\.json') as err:
        build_dataset(coco_cfg(ann_file, img_dir, test_mode=True))
    assert 'image ids' in str(err.value) and '[2]' in str(err.value)


def test_duplicate_annotation_ids_stay_an_error(coco, tmp_path):
    content, img_dir, _ = coco
    content = copy.deepcopy(content)
    content['annotations'][3]['id'] = content['annotations'][0]['id']
    ann_file = write_json(tmp_path / 'dup.json', content)
    # AssertionError too, as MMDetection 2.x raised
    with pytest.raises(AssertionError, match=r'dup\.json'):
        CocoDataset(ann_file=ann_file, classes=CLASSES, pipeline=[])


# -- 5. malformed segmentations -------------------------------------------
# Rule: a malformed mask is refused when the file is loaded, for training
# and testing alike; a missing or empty one means "no mask": fine for boxes,
# an error where masks are used (mask training, segm evaluation).

MASK_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
]


@pytest.mark.parametrize(
    'segmentation, problem',
    [
        ([[8, 10, 24, 10]], 'fewer than 3 points'),
        ([[8, 10, 24, 10, 24, 26, 8]], 'odd number'),
        ([8, 10, 24, 10, 24, 26], 'no list of coordinates'),
        ({'counts': 'abc'}, "'size'"),
        ({'counts': 'abc', 'size': [32, 32]}, 'size [32, 32]'),
    ],
)
@pytest.mark.parametrize('test_mode', [False, True])
def test_malformed_segmentation_refused_at_load(
    coco, tmp_path, segmentation, problem, test_mode
):
    content, img_dir, _ = coco
    content = copy.deepcopy(content)
    content['annotations'][2]['segmentation'] = segmentation
    ann_file = write_json(tmp_path / 'seg.json', content)
    with pytest.raises(ValueError, match=r'seg\.json') as err:
        build_dataset(coco_cfg(ann_file, img_dir, test_mode=test_mode))
    assert 'annotation 3' in str(err.value) and problem in str(err.value)


@pytest.mark.parametrize('empty', [None, []])
def test_missing_segmentation_where_masks_are_used(coco, tmp_path, empty):
    content, img_dir, _ = coco
    content = copy.deepcopy(content)
    if empty is None:
        del content['annotations'][1]['segmentation']
    else:
        content['annotations'][1]['segmentation'] = empty
    ann_file = write_json(tmp_path / 'noseg.json', content)
    with pytest.raises(ValueError, match=r'noseg\.json') as err:
        build_dataset(coco_cfg(ann_file, img_dir, pipeline=MASK_PIPELINE))
    assert 'annotation 2' in str(err.value)
    # boxes only: fine
    boxes = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')]
    assert len(build_dataset(coco_cfg(ann_file, img_dir, pipeline=boxes))) == 4
    # segm evaluation names the annotation without a mask, before COCOeval
    dataset = build_dataset(coco_cfg(ann_file, img_dir, test_mode=True))
    mask = np.zeros((SIZE, SIZE), dtype=np.uint8)
    results = [([np.zeros((0, 5), np.float32)] * 4, [[]] * 4)] * 3 + [
        (
            [np.array([[8, 10, 24, 26, 0.9]], np.float32)]
            + [np.zeros((0, 5), np.float32)] * 3,
            [[mask], [], [], []],
        )
    ]
    with pytest.raises(ValueError, match='annotation 2'):
        dataset.evaluate(results, metric='segm')
    assert dataset.evaluate(results, metric='bbox')['bbox_mAP'] >= 0


# -- 6. corrupt JSON -------------------------------------------------------


@pytest.mark.parametrize(
    'text, where',
    [
        (
            '{"images": [{"id": 1, "file_name": "a.png",',
            'line 1, column 44 (the file ends there: truncated',
        ),
        ('images:\n  - id: 1\n', 'line 1, column 1'),
        ('', 'empty'),
        ('{"images": [], "annotations": []}\n{"x": 1}', 'line 2, column 1'),
    ],
)
def test_corrupt_annotation_json_named(coco, tmp_path, text, where):
    _, img_dir, _ = coco
    path = tmp_path / 'broken.json'
    path.write_text(text)
    with pytest.raises(ValueError) as err:
        build_dataset(coco_cfg(path, img_dir, test_mode=True))
    message = str(err.value)
    assert str(path) in message and where in message


@pytest.mark.parametrize(
    'breakage, message',
    [
        (lambda c: [1, 2], r'list\.json.*images.*found list'),
        (
            lambda c: dict(c, images=[{'id': 1, 'file_name': 'a.png'}]),
            r"list\.json.*entries \[0\] of 'images'.*'width'",
        ),
        (
            lambda c: dict(c, annotations=[{'image_id': 1}]),
            r"list\.json.*annotation entry has no 'id'",
        ),
    ],
)
def test_annotation_json_not_coco_named(coco, tmp_path, breakage, message):
    content, img_dir, _ = coco
    path = write_json(tmp_path / 'list.json', breakage(copy.deepcopy(content)))
    with pytest.raises(ValueError, match=message):
        build_dataset(coco_cfg(path, img_dir, test_mode=True))


# -- 9. decoded image size vs the JSON's width / height -------------------


def test_image_size_differs_from_annotation(coco, tmp_path):
    content, img_dir, _ = coco
    content = copy.deepcopy(content)
    content['images'][0]['width'] = 80
    ann_file = write_json(tmp_path / 'a.json', content)
    dataset = build_dataset(
        coco_cfg(
            ann_file,
            img_dir,
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
            ],
        )
    )
    with pytest.raises(ValueError, match='000.png') as err:
        dataset[0]
    assert '80x64' in str(err.value) and '64x64' in str(err.value)


def test_exif_rotated_image_named(tmp_path):
    """The stored pixels match the JSON, but the EXIF orientation turns
    them on decoding: an error that names the image and the way out."""
    from PIL import Image

    content, img_dir = make_coco(
        str(tmp_path), num_images=1, width=64, height=48
    )
    name = content['images'][0]['file_name'].replace('.png', '.jpg')
    content['images'][0]['file_name'] = name
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees on display
    Image.new('RGB', (64, 48), (40, 40, 40)).save(
        osp.join(img_dir, name), exif=exif
    )
    ann_file = write_json(tmp_path / 'a.json', content)
    pipeline = [dict(type='LoadImageFromFile')]
    dataset = build_dataset(coco_cfg(ann_file, img_dir, pipeline=pipeline))
    with pytest.raises(ValueError, match=name) as err:
        dataset[0]
    assert 'EXIF' in str(err.value)
    assert 'color_ignore_orientation' in str(err.value)
    # the way out named in the message works
    pipeline[0]['color_type'] = 'color_ignore_orientation'
    dataset = build_dataset(coco_cfg(ann_file, img_dir, pipeline=pipeline))
    assert dataset[0]['img'].shape == (48, 64, 3)


# -- 10. inference inputs --------------------------------------------------


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return init_detector(CONFIG, device='cpu')


def test_inference_empty_image_named(model):
    with pytest.raises(ValueError, match=r'\(0, 0, 3\)'):
        inference_detector(model, np.zeros((0, 0, 3), np.uint8))


def test_inference_grayscale_and_rgba_arrays(model):
    rng = np.random.RandomState(0)
    bgr = rng.randint(0, 255, (SIZE, SIZE, 3)).astype(np.uint8)
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    expected = inference_detector(model, np.repeat(gray[..., None], 3, 2))
    result = inference_detector(model, gray)
    for a, b in zip(expected[0], result[0]):
        np.testing.assert_array_equal(a, b)
    bgra = np.concatenate([bgr, np.full_like(bgr[..., :1], 255)], axis=2)
    with pytest.warns(UserWarning, match='alpha'):
        result = inference_detector(model, bgra)
    for a, b in zip(inference_detector(model, bgr)[0], result[0]):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r'\(64, 64, 2\)'):
        inference_detector(model, bgr[..., :2])


def test_inference_float_image_in_unit_range_warns(model):
    img = np.random.RandomState(0).rand(SIZE, SIZE, 3).astype(np.float32)
    with pytest.warns(UserWarning, match='255'):
        inference_detector(model, img)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        inference_detector(model, img * 255)


@pytest.mark.parametrize('data', [b'', b'not an image at all'])
def test_inference_corrupt_image_file_named(model, tmp_path, data):
    path = tmp_path / 'broken.jpg'
    path.write_bytes(data)
    with pytest.raises(OSError, match=str(path)):
        inference_detector(model, str(path))
