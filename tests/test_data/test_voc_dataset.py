"""XMLDataset / VOCDataset on hand-written VOC XML files: parsing
(0-based boxes, difficult and small objects ignored, unknown classes
skipped, sizes without <size>), training filters, and 'mAP' / 'recall'
against values derived by hand; the pascal_voc converter."""

import runpy
import sys

import mmcv
import numpy as np
import pytest

from mmdet.datasets import VOCDataset, XMLDataset, build_dataset
from mmdet.datasets.converters import convert_voc

# image id -> (width, height, [(name, [xmin, ymin, xmax, ymax], difficult)])
IMAGES = {
    '000001': (100, 80, [
        ('cat', [11, 11, 50, 50], 0),
        ('dog', [61, 21, 90, 70], 0),
        ('person', [5, 5, 20, 20], 1),
    ]),
    '000002': (120, 90, [
        ('cat', [21, 21, 60, 60], 0),
        ('zebra', [1, 1, 30, 30], 0),
    ]),
    '000003': (64, 48, [('zebra', [1, 1, 30, 30], 0)]),
}  # fmt: skip


def xml_text(width, height, objects, with_size=True):
    size = (
        f'<size><width>{width}</width><height>{height}</height>'
        '<depth>3</depth></size>'
        if with_size
        else ''
    )
    objs = ''.join(
        f'<object><name>{name}</name><difficult>{diff}</difficult>'
        '<bndbox>'
        + ''.join(
            f'<{k}>{v}</{k}>'
            for k, v in zip(('xmin', 'ymin', 'xmax', 'ymax'), box)
        )
        + '</bndbox></object>'
        for name, box, diff in objects
    )
    return f'<annotation>{size}{objs}</annotation>'


def write_voc(root, year='2007', images=IMAGES, no_size=()):
    """A VOCdevkit/VOC<year> folder with test.txt listing ``images``."""
    base = root / f'VOC{year}'
    for sub in ('Annotations', 'JPEGImages', 'ImageSets/Main'):
        (base / sub).mkdir(parents=True, exist_ok=True)
    for img_id, (w, h, objects) in images.items():
        (base / 'Annotations' / f'{img_id}.xml').write_text(
            xml_text(w, h, objects, img_id not in no_size)
        )
        mmcv.imwrite(
            np.zeros((h, w, 3), np.uint8),
            str(base / 'JPEGImages' / f'{img_id}.jpg'),
        )
    for split in ('test', 'trainval'):
        (base / 'ImageSets/Main' / f'{split}.txt').write_text(
            '\n'.join(images) + '\n'
        )
    return base


def voc_cfg(base, split='test', **kwargs):
    return dict(
        type='VOCDataset',
        ann_file=str(base / 'ImageSets/Main' / f'{split}.txt'),
        img_prefix=str(base) + '/',
        pipeline=[],
        **kwargs,
    )


def label(name):
    return VOCDataset.CLASSES.index(name)


def test_parse_boxes_ignore_and_sizes(tmp_path):
    base = write_voc(tmp_path, no_size={'000002'})
    ds = build_dataset(voc_cfg(base, test_mode=True))
    assert ds.year == 2007 and len(ds) == 3
    assert [(i['width'], i['height']) for i in ds.data_infos] == [
        (100, 80),
        (120, 90),  # read from the image file
        (64, 48),
    ]
    assert ds.data_infos[0]['filename'] == 'JPEGImages/000001.jpg'
    ann = ds.get_ann_info(0)
    np.testing.assert_array_equal(
        ann['bboxes'], [[10, 10, 49, 49], [60, 20, 89, 69]]
    )
    assert ann['bboxes'].dtype == np.float32
    assert ann['labels'].tolist() == [label('cat'), label('dog')]
    np.testing.assert_array_equal(ann['bboxes_ignore'], [[4, 4, 19, 19]])
    assert ann['labels_ignore'].tolist() == [label('person')]
    ann = ds.get_ann_info(1)  # the zebra is not a VOC class
    assert ann['labels'].tolist() == [label('cat')]
    assert ann['bboxes_ignore'].shape == (0, 4)
    assert ds.get_cat_ids(0) == [label(n) for n in ('cat', 'dog', 'person')]


def test_training_filters_and_min_size(tmp_path):
    base = write_voc(tmp_path)
    ds = build_dataset(voc_cfg(base, 'trainval', min_size=35))
    # 000003 has no VOC object
    assert [i['id'] for i in ds.data_infos] == ['000001', '000002']
    ann = ds.get_ann_info(0)
    # the dog (30 x 50 after the shift) is under min_size: ignored
    assert ann['labels'].tolist() == [label('cat')]
    assert sorted(ann['labels_ignore'].tolist()) == sorted(
        [label('dog'), label('person')]
    )
    kept = build_dataset(voc_cfg(base, 'trainval', filter_empty_gt=False))
    assert len(kept) == 3


def test_year_and_classes(tmp_path):
    base = write_voc(tmp_path, year='2012')
    assert build_dataset(voc_cfg(base, test_mode=True)).year == 2012
    other = tmp_path / 'other'
    other.mkdir()
    (other / 'Annotations').mkdir()
    (other / 'list.txt').write_text('')
    with pytest.raises(ValueError, match='VOC2007 or VOC2012'):
        VOCDataset(
            ann_file=str(other / 'list.txt'),
            img_prefix=str(other),
            pipeline=[],
            test_mode=True,
        )
    ds = XMLDataset(
        ann_file=str(base / 'ImageSets/Main/test.txt'),
        img_prefix=str(base),
        pipeline=[],
        classes=('zebra',),
        test_mode=True,
    )
    assert ds.get_ann_info(1)['labels'].tolist() == [0]


def detections(num_classes=20):
    """Cat: one TP (img 1), one FP (img 2), one FN (img 2's cat); dog: one
    TP; person: a detection on the difficult box (neither TP nor FP)."""
    dets = [
        [np.zeros((0, 5), np.float32) for _ in range(num_classes)]
        for _ in range(3)
    ]
    dets[0][label('cat')] = np.array([[10, 10, 49, 49, 0.9]], np.float32)
    dets[1][label('cat')] = np.array([[70, 60, 110, 85, 0.8]], np.float32)
    dets[0][label('dog')] = np.array([[60, 20, 89, 69, 0.7]], np.float32)
    dets[0][label('person')] = np.array([[4, 4, 19, 19, 0.6]], np.float32)
    return dets


@pytest.mark.parametrize(
    'year, expected',
    [
        # cat: recall 0.5 at precision 1, then an FP: 11-point AP = 6 / 11
        # (thresholds 0..0.5), area AP = 0.5; dog AP = 1; person has no
        # counted gt box and is left out of the mean
        ('2007', (6 / 11 + 1) / 2),
        ('2012', (0.5 + 1) / 2),
    ],
)
def test_map_by_hand(tmp_path, year, expected):
    base = write_voc(tmp_path, year=year)
    ds = build_dataset(voc_cfg(base, test_mode=True))
    result = ds.evaluate(detections(), metric='mAP', logger='silent')
    assert list(result) == ['mAP', 'AP50']
    assert result['mAP'] == pytest.approx(expected, abs=1e-6)
    assert result['AP50'] == round(expected, 3)
    two = ds.evaluate(detections(), iou_thr=[0.5, 0.75], logger='silent')
    assert list(two) == ['mAP', 'AP50', 'AP75']
    assert two['mAP'] == pytest.approx(expected, abs=1e-6)


def test_map_table_names_voc_classes(tmp_path, capsys):
    base = write_voc(tmp_path)
    ds = build_dataset(voc_cfg(base, test_mode=True))
    ds.evaluate(detections())
    out = capsys.readouterr().out
    assert '| cat ' in out and '| mAP ' in out and '0.773' in out
    # other class lists keep their names and VOC2007's 11-point AP
    mine = build_dataset(
        voc_cfg(base, test_mode=True, classes=('dog', 'cat', 'person'))
    )
    dets = detections()
    dets = [[d[label(n)] for n in ('dog', 'cat', 'person')] for d in dets]
    result = mine.evaluate(dets)
    out = capsys.readouterr().out
    assert '| cat ' in out and '| aeroplane' not in out
    assert result['mAP'] == pytest.approx((6 / 11 + 1) / 2, abs=1e-6)


def test_recall_by_hand(tmp_path):
    base = write_voc(tmp_path)
    ds = build_dataset(voc_cfg(base, test_mode=True))
    proposals = [
        np.array([[10, 10, 49, 49, 0.9], [0, 0, 5, 5, 0.8]], np.float32),
        np.array([[20, 20, 59, 59, 0.9]], np.float32),
        np.zeros((0, 5), np.float32),
    ]
    result = ds.evaluate(
        proposals, metric='recall', proposal_nums=(1, 2), logger='silent'
    )
    # 3 counted gt boxes (the difficult person is not one): with one
    # proposal per image the cats of images 1 and 2 are found
    assert result['recall@1@0.5'] == pytest.approx(2 / 3)
    assert result['recall@2@0.5'] == pytest.approx(2 / 3)
    two = ds.evaluate(
        proposals, metric='recall', proposal_nums=(1,), iou_thr=[0.5, 0.9],
        logger='silent',
    )  # fmt: skip
    assert two['AR@1'] == pytest.approx(2 / 3)
    with pytest.raises(KeyError):
        ds.evaluate(proposals, metric='bbox')


VOC_ONLY = {
    '000001': IMAGES['000001'],
    '000002': (120, 90, [('cat', [21, 21, 60, 60], 0)]),
}


def test_pascal_voc_converter(tmp_path):
    write_voc(tmp_path / 'unknown', images=IMAGES)
    with pytest.raises(ValueError, match="000002.xml: class 'zebra'"):
        convert_voc(str(tmp_path / 'unknown'))
    write_voc(tmp_path / 'VOCdevkit', images=VOC_ONLY)
    paths = convert_voc(str(tmp_path / 'VOCdevkit'), str(tmp_path / 'out'))
    names = sorted(p.rsplit('/', 1)[1] for p in paths)
    assert names == ['voc07_test.pkl', 'voc07_trainval.pkl']
    infos = mmcv.load(str(tmp_path / 'out' / 'voc07_test.pkl'))
    assert infos[0]['filename'] == 'VOC2007/JPEGImages/000001.jpg'
    np.testing.assert_array_equal(
        infos[0]['ann']['bboxes'], [[10, 10, 49, 49], [60, 20, 89, 69]]
    )
    assert infos[0]['ann']['labels_ignore'].tolist() == [label('person')]


def test_pascal_voc_converter_coco_cli(tmp_path, monkeypatch):
    devkit = tmp_path / 'VOCdevkit'
    write_voc(devkit, images=VOC_ONLY)
    write_voc(devkit, year='2012', images=VOC_ONLY)
    monkeypatch.setattr(
        sys,
        'argv',
        ['pascal_voc.py', str(devkit), '-o', str(tmp_path / 'out'),
         '--out-format', 'coco'],
    )  # fmt: skip
    runpy.run_path(
        'tools/dataset_converters/pascal_voc.py', run_name='__main__'
    )
    coco = mmcv.load(str(tmp_path / 'out' / 'voc07_test.json'))
    assert [c['name'] for c in coco['categories']][:2] == [
        'aeroplane',
        'bicycle',
    ]
    assert coco['categories'][0]['id'] == 0
    assert [i['id'] for i in coco['images']] == [0, 1]
    both = mmcv.load(str(tmp_path / 'out' / 'voc0712_trainval.json'))
    assert [i['file_name'] for i in both['images']] == [
        f'VOC{y}/JPEGImages/00000{i}.jpg' for y in (2007, 2012) for i in (1, 2)
    ]
    first = coco['annotations'][0]
    assert first['bbox'] == [10, 10, 39, 39] and first['iscrowd'] == 0
    assert first['area'] == 39 * 39
    difficult = [a for a in coco['annotations'] if a['iscrowd']]
    assert [a['category_id'] for a in difficult] == [label('person')]
