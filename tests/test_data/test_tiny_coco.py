"""The tiny data set generator: deterministic, valid COCO, the promised
content (classes, polygons, overlaps, crowds, empty images), fast CLI."""

import hashlib
import json
import os.path as osp
import runpy
import sys
import time

import numpy as np
import pycocotools.mask as mask_utils
import pytest
from pycocotools.coco import COCO

from mmdet.testing import TINY_COCO_CLASSES, make_tiny_coco

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def digest(root):
    """Hash of every file the generator wrote."""
    h = hashlib.sha256()
    for rel in sorted(
        p.relative_to(root).as_posix() for p in root.rglob('*') if p.is_file()
    ):
        h.update(rel.encode())
        h.update((root / rel).read_bytes())
    return h.hexdigest()


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    for name, seed in (('a', 1), ('b', 1), ('c', 2)):
        make_tiny_coco(str(tmp_path / name), seed=seed, num_train=6, num_val=3)
    assert digest(tmp_path / 'a') == digest(tmp_path / 'b')
    assert digest(tmp_path / 'a') != digest(tmp_path / 'c')


def test_content(tiny_coco):
    data = json.load(open(tiny_coco / 'annotations' / 'instances_train.json'))
    assert [c['name'] for c in data['categories']] == list(TINY_COCO_CLASSES)
    assert [c['id'] for c in data['categories']] == [1, 2, 3, 4]
    images = {img['id']: img for img in data['images']}
    assert len(images) == 16
    for img in images.values():
        assert max(img['height'], img['width']) == 128
        assert (tiny_coco / 'train' / img['file_name']).is_file()
    anns = data['annotations']
    assert len({a['id'] for a in anns}) == len(anns)
    crowd = [a for a in anns if a['iscrowd']]
    objects = [a for a in anns if not a['iscrowd']]
    assert crowd and all(isinstance(a['segmentation'], dict) for a in crowd)
    per_image = np.bincount([a['image_id'] for a in objects], minlength=17)[1:]
    assert (per_image == 0).any(), 'some images have no object'
    assert per_image.max() <= 3
    assert {a['category_id'] for a in objects} == {1, 2, 3, 4}
    for a in objects:
        img = images[a['image_id']]
        assert isinstance(a['segmentation'], list)
        assert all(len(p) >= 6 and len(p) % 2 == 0 for p in a['segmentation'])
        x, y, w, h = a['bbox']
        assert (
            x >= 0
            and y >= 0
            and x + w <= img['width'] + 1e-6
            and y + h <= img['height'] + 1e-6
        )
        assert min(w, h) >= 10
        rle = mask_utils.merge(
            mask_utils.frPyObjects(
                a['segmentation'], img['height'], img['width']
            )
        )
        assert mask_utils.area(rle) == pytest.approx(a['area'])


def test_objects_overlap_somewhere_and_masks_are_visible_parts(tmp_path):
    make_tiny_coco(str(tmp_path), seed=0, num_train=40, num_val=1)
    coco = COCO(str(tmp_path / 'annotations' / 'instances_train.json'))
    overlapping = 0
    for img_id in coco.getImgIds():
        anns = [
            a
            for a in coco.loadAnns(coco.getAnnIds(imgIds=[img_id]))
            if not a['iscrowd']
        ]
        boxes = np.array([a['bbox'] for a in anns]).reshape(-1, 4)
        ious = mask_utils.iou(boxes.tolist(), boxes.tolist(), [0] * len(boxes))
        overlapping += int((np.triu(np.asarray(ious), 1) > 0).any())
        masks = [coco.annToMask(a) for a in anns]
        for i in range(len(masks)):
            for j in range(i + 1, len(masks)):
                # visible parts: two objects never claim the same pixel
                assert (masks[i] & masks[j]).sum() <= 4
    assert overlapping >= 2


def test_painted_pixels_follow_the_masks(tiny_coco):
    """Object pixels are saturated colour, background grey: the mask
    region is much more colourful than the rest (the task is learnable)."""
    import mmcv

    coco = COCO(str(tiny_coco / 'annotations' / 'instances_train.json'))
    for img_id in coco.getImgIds()[:6]:
        anns = [
            a
            for a in coco.loadAnns(coco.getAnnIds(imgIds=[img_id]))
            if not a['iscrowd']
        ]
        if not anns:
            continue
        info = coco.loadImgs([img_id])[0]
        img = mmcv.imread(str(tiny_coco / 'train' / info['file_name']))
        sat = img.max(2).astype(float) - img.min(2)
        fg = np.zeros(img.shape[:2], bool)
        for a in anns:
            fg |= coco.annToMask(a).astype(bool)
        assert sat[fg].mean() > sat[~fg].mean() + 60


def test_cli_and_difficulty(tmp_path, monkeypatch):
    out = tmp_path / 'hard'
    monkeypatch.setattr(
        sys,
        'argv',
        [
            'make_tiny_coco.py',
            '--out',
            str(out),
            '--seed',
            '3',
            '--num-train',
            '20',
            '--num-val',
            '5',
            '--size',
            '96',
            '--difficulty',
            'hard',
        ],
    )
    start = time.time()
    runpy.run_path(
        osp.join(REPO, 'tools', 'misc', 'make_tiny_coco.py'),
        run_name='__main__',
    )
    assert time.time() - start < 10
    val = json.load(open(out / 'annotations' / 'instances_val.json'))
    assert len(val['images']) == 5
    assert max(val['images'][0]['height'], val['images'][0]['width']) == 96
    assert len(list((out / 'train').glob('*.jpg'))) == 20
    with pytest.raises(ValueError, match='difficulty'):
        make_tiny_coco(str(tmp_path / 'x'), difficulty='extreme')
