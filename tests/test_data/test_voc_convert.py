"""tools/dataset_converters/pascal_voc.py on a small VOCdevkit written by
the test from tiny-set boxes: COCO and middle-format outputs give back the
boxes (VOC's 1-based corners minus 1), difficult objects are ignored, and
the data sets load the files."""

import json
import os.path as osp
import runpy
import shutil
import sys

import mmcv
import numpy as np
import pytest

from mmdet.datasets import CocoDataset, CustomDataset
from mmdet.testing import make_tiny_coco

ROOT = osp.dirname(osp.dirname(osp.dirname(__file__)))
CLASSES = ['circle', 'square', 'triangle', 'cross']


def voc_xml(name, width, height, objects):
    """objects: (class name, [x, y, w, h] 0-based, difficult)."""
    parts = [
        f'<annotation><filename>{name}.jpg</filename>'
        f'<size><width>{width}</width><height>{height}</height>'
        '<depth>3</depth></size>'
    ]
    for cls, (x, y, w, h), difficult in objects:
        # VOC: 1-based corners
        parts.append(
            f'<object><name>{cls}</name><difficult>{int(difficult)}'
            f'</difficult><bndbox><xmin>{x + 1}</xmin><ymin>{y + 1}</ymin>'
            f'<xmax>{x + w + 1}</xmax><ymax>{y + h + 1}</ymax></bndbox>'
            '</object>'
        )
    parts.append('</annotation>')
    return ''.join(parts)


@pytest.fixture(scope='module')
def devkit(tmp_path_factory):
    """VOCdevkit/VOC2007 with 3 train and 2 val images; the first object
    of each image is difficult. Returns (devkit, {name: objects})."""
    tiny = tmp_path_factory.mktemp('tiny')
    make_tiny_coco(str(tiny), seed=0, num_train=1, num_val=6, size=64)
    coco = json.loads(
        (tiny / 'annotations' / 'instances_val.json').read_text()
    )
    year = tmp_path_factory.mktemp('devkit') / 'VOC2007'
    for sub in ('Annotations', 'JPEGImages', 'ImageSets/Main'):
        (year / sub).mkdir(parents=True)
    expected = {}
    for image in coco['images']:
        anns = [
            a
            for a in coco['annotations']
            if a['image_id'] == image['id'] and not a['iscrowd']
        ]
        if not anns:
            continue
        name = f'{image["id"]:06d}'
        objects = [
            (
                CLASSES[a['category_id'] - 1],
                [round(v) for v in a['bbox']],
                i == 0,
            )
            for i, a in enumerate(anns)
        ]
        expected[name] = objects
        shutil.copy(tiny / 'val' / image['file_name'], year / 'JPEGImages')
        (year / 'Annotations' / f'{name}.xml').write_text(
            voc_xml(name, image['width'], image['height'], objects)
        )
    names = sorted(expected)[:5]
    (year / 'ImageSets/Main/train.txt').write_text('\n'.join(names[:3]))
    (year / 'ImageSets/Main/val.txt').write_text('\n'.join(names[3:]))
    return year.parent, {n: expected[n] for n in names}


def convert(devkit, out, fmt, monkeypatch):
    tool = osp.join(ROOT, 'tools', 'dataset_converters', 'pascal_voc.py')
    argv = [tool, str(devkit), '-o', str(out), '--out-format', fmt]
    monkeypatch.setattr(sys, 'argv', argv + ['--classes'] + CLASSES)
    runpy.run_path(tool, run_name='__main__')


def test_coco_output_gives_back_the_boxes(devkit, tmp_path, monkeypatch):
    root, expected = devkit
    convert(root, tmp_path, 'coco', monkeypatch)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        'voc07_train.json',
        'voc07_val.json',
    ]
    data = json.loads((tmp_path / 'voc07_train.json').read_text())
    assert [c['name'] for c in data['categories']] == CLASSES
    for image in data['images']:
        name = osp.splitext(osp.basename(image['file_name']))[0]
        anns = [a for a in data['annotations'] if a['image_id'] == image['id']]
        got = sorted(
            (CLASSES[a['category_id'] - 1], a['bbox'], bool(a['iscrowd']))
            for a in anns
        )
        assert got == sorted(
            (c, [float(v) for v in box], hard)
            for c, box, hard in expected[name]
        )
    # CocoDataset reads it; the difficult objects become ignored boxes
    dataset = CocoDataset(
        str(tmp_path / 'voc07_train.json'),
        pipeline=[],
        classes=CLASSES,
        img_prefix=str(root / 'VOC2007'),
    )
    assert len(dataset) == 3
    first = dataset.data_infos[0]
    assert osp.isfile(osp.join(dataset.img_prefix, first['filename']))
    info = dataset.get_ann_info(0)
    objects = expected[osp.splitext(osp.basename(first['filename']))[0]]
    x, y, w, h = objects[0][1]
    np.testing.assert_allclose(info['bboxes_ignore'], [[x, y, x + w, y + h]])
    assert len(info['bboxes']) == len(objects) - 1


def test_middle_format_output(devkit, tmp_path, monkeypatch):
    root, expected = devkit
    convert(root, tmp_path, 'pkl', monkeypatch)
    dataset = CustomDataset(
        str(tmp_path / 'voc07_val.pkl'),
        pipeline=[],
        classes=CLASSES,
        img_prefix=str(root / 'VOC2007'),
        test_mode=True,
    )
    assert len(dataset) == 2
    for idx, info in enumerate(dataset.data_infos):
        objects = expected[osp.splitext(osp.basename(info['filename']))[0]]
        ann = dataset.get_ann_info(idx)
        corners = [[x, y, x + w, y + h] for _, (x, y, w, h), hard in objects]
        labels = [CLASSES.index(c) for c, _, _ in objects]
        np.testing.assert_allclose(ann['bboxes_ignore'], corners[:1])
        np.testing.assert_allclose(
            ann['bboxes'], np.reshape(corners[1:], (-1, 4))
        )
        assert list(ann['labels']) == labels[1:]
        assert (
            info['width']
            == mmcv.imread(
                osp.join(dataset.img_prefix, info['filename'])
            ).shape[1]
        )


def test_a_folder_without_annotations_is_named(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match='VOCdevkit'):
        convert(tmp_path, tmp_path / 'out', 'coco', monkeypatch)
