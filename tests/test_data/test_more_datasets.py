"""The COCO-json and XML data sets beside COCO and VOC: DeepFashion,
Objects365 v1/v2, LVIS v0.5/v1, Cityscapes, WIDER FACE. Each test writes
a small file of the data set's own format and checks loading and, where
the evaluation is the data set's own, numbers derived by hand (LVIS and
the Cityscapes metric run when the optional package is installed)."""

import json
import runpy
import sys

import cv2
import mmcv
import numpy as np
import pytest

from mmdet.datasets import build_dataset


def run_tool(path, argv, monkeypatch):
    """Run a tools/ script in this process (as ``python path argv``)."""
    monkeypatch.setattr(sys, 'argv', [path, *argv])
    runpy.run_path(path, run_name='__main__')


def write_json(path, images, annotations, categories, extra_images=None):
    for img in images:
        img.update(extra_images or {})
    path.write_text(
        json.dumps(
            dict(images=images, annotations=annotations, categories=categories)
        )
    )
    return str(path)


def box_ann(ann_id, img_id, cat_id, xywh, **kwargs):
    x, y, w, h = xywh
    return dict(
        id=ann_id,
        image_id=img_id,
        category_id=cat_id,
        bbox=list(xywh),
        area=w * h,
        segmentation=[[x, y, x + w, y, x + w, y + h, x, y + h]],
        iscrowd=0,
        **kwargs,
    )


def image(img_id, name, w=100, h=80):
    return dict(id=img_id, file_name=name, width=w, height=h)


def test_deepfashion(tmp_path):
    cats = [dict(id=i + 1, name=n) for i, n in enumerate(['top', 'skirt'])]
    ann = write_json(
        tmp_path / 'ann.json',
        [image(1, 'a.jpg')],
        [box_ann(1, 1, 2, (10, 10, 30, 20))],
        cats,
    )
    ds = build_dataset(
        dict(
            type='DeepFashionDataset',
            ann_file=ann,
            img_prefix='',
            pipeline=[],
            classes=('top', 'skirt'),
        )
    )
    assert len(ds.CLASSES) == 2 and ds.get_ann_info(0)['labels'].tolist() == [
        1
    ]
    from mmdet.datasets import DeepFashionDataset

    assert len(DeepFashionDataset.CLASSES) == 15
    assert len(DeepFashionDataset.PALETTE) == 15


@pytest.mark.parametrize(
    'kind, names', [('V1', ['a', 'b', 'c']), ('V2', ['c', 'a', 'b'])]
)
def test_objects365_classes_from_file(tmp_path, kind, names):
    # categories listed out of id order: v1 sorts them by id (label = rank
    # of the id), v2 keeps the file order
    cats = [dict(id=3, name='c'), dict(id=1, name='a'), dict(id=2, name='b')]
    ann = write_json(
        tmp_path / 'ann.json',
        [image(1, 'a.jpg')],
        [box_ann(1, 1, 3, (10, 10, 30, 20)), box_ann(2, 1, 1, (5, 5, 9, 9))],
        cats,
    )
    ds = build_dataset(
        dict(
            type=f'Objects365{kind}Dataset',
            ann_file=ann,
            img_prefix='',
            pipeline=[],
        )
    )
    assert list(ds.CLASSES) == names
    ann = ds.get_ann_info(0)
    assert ann['labels'].tolist() == [names.index('c'), names.index('a')]
    np.testing.assert_array_equal(ann['bboxes'][0], [10, 10, 40, 30])
    assert len(ds.PALETTE) == 3


def lvis_file(tmp_path, version):
    """Two images, class 'ant' (id 1, 2 boxes in image 1) and 'bee'
    (id 2, 1 box in image 2), LVIS fields included."""
    names = ['COCO_val2014_000000000001.jpg', 'COCO_val2014_000000000002.jpg']
    images = []
    for i, name in enumerate(names, 1):
        img = dict(
            id=i,
            width=100,
            height=80,
            not_exhaustive_category_ids=[],
            neg_category_ids=[],
        )
        if version == 'V1':
            img['coco_url'] = (
                f'http://images.cocodataset.org/val2017/{name[-16:]}'
            )
        else:
            img['file_name'] = name
        images.append(img)
    cats = [
        dict(id=1, name='ant', frequency='f', image_count=1, synset='a'),
        dict(id=2, name='bee', frequency='r', image_count=1, synset='b'),
    ]
    anns = [
        box_ann(1, 1, 1, (10, 10, 20, 20)),
        box_ann(2, 1, 1, (50, 40, 20, 20)),
        box_ann(3, 2, 2, (30, 30, 20, 20)),
    ]
    for a in anns:
        a.pop('iscrowd')
    return write_json(tmp_path / 'lvis.json', images, anns, cats)


def lvis_cfg(path, version):
    return dict(
        type=f'LVIS{version}Dataset',
        ann_file=path,
        img_prefix='',
        pipeline=[],
        test_mode=True,
    )


@pytest.mark.parametrize(
    'version, filename',
    [('V05', '000000000001.jpg'), ('V1', 'val2017/000000000001.jpg')],
)
def test_lvis_loading(tmp_path, version, filename):
    ds = build_dataset(lvis_cfg(lvis_file(tmp_path, version), version))
    assert ds.data_infos[0]['filename'] == filename
    assert list(ds.CLASSES) == ['ant', 'bee']
    assert ds.get_ann_info(0)['labels'].tolist() == [0, 0]
    assert ds.get_ann_info(1)['labels'].tolist() == [1]
    assert build_dataset(
        dict(lvis_cfg(lvis_file(tmp_path, 'V05'), 'V05'), type='LVISDataset')
    ).CLASSES == ('ant', 'bee')


def lvis_results():
    """ant: the first box found (0.9), a far box (0.8, FP); the second ant
    missed; bee found."""
    empty = np.zeros((0, 5), np.float32)
    ant = np.array([[10, 10, 30, 30, 0.9], [80, 0, 99, 9, 0.8]], np.float32)
    bee = np.array([[30, 30, 50, 50, 0.7]], np.float32)
    return [[ant, empty], [empty, bee]]


def test_lvis_evaluation_by_hand(tmp_path):
    pytest.importorskip('lvis')
    ds = build_dataset(lvis_cfg(lvis_file(tmp_path, 'V1'), 'V1'))
    result = ds.evaluate(lvis_results(), metric='bbox')
    # ant: recall 0.5 at precision 1 then an FP: 101-point AP = 51 / 101
    # at every IoU threshold; bee: AP 1 (a rare class)
    assert result['bbox_AP'] == round((51 / 101 + 1) / 2, 3)
    assert result['bbox_APr'] == 1.0
    assert result['bbox_APf'] == round(51 / 101, 3)
    assert result['bbox_mAP_copypaste'].startswith('AP:')


def test_lvis_missing_package(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'lvis', None)
    ds = build_dataset(lvis_cfg(lvis_file(tmp_path, 'V1'), 'V1'))
    with pytest.raises(ImportError, match='pip install lvis'):
        ds.evaluate(lvis_results(), metric='bbox')
    fast = ds.evaluate(
        [np.vstack(r) for r in lvis_results()],
        metric='proposal_fast',
        proposal_nums=(1, 10),
        iou_thrs=[0.5],
    )
    # 3 gt boxes; top-1 proposals find the first ant and the bee
    assert fast['AR@1'] == pytest.approx(2 / 3)


# -- Cityscapes -------------------------------------------------------------

CITY_BOXES = [(10, 10, 30, 20), (60, 30, 20, 30)]  # two cars, 600 px each


def write_cityscapes(root):
    """leftImg8bit/val/zurich + gtFine/val/zurich of one 128 x 64 image
    with two cars (ids 26000, 26001), and its COCO json (with a crowd-only
    second image)."""
    name = 'zurich_000000_000019'
    img_dir = root / 'leftImg8bit' / 'val' / 'zurich'
    gt_dir = root / 'gtFine' / 'val' / 'zurich'
    img_dir.mkdir(parents=True)
    gt_dir.mkdir(parents=True)
    mmcv.imwrite(
        np.zeros((64, 128, 3), np.uint8),
        str(img_dir / f'{name}_leftImg8bit.png'),
    )
    ids = np.zeros((64, 128), np.uint16)
    for k, (x, y, w, h) in enumerate(CITY_BOXES):
        ids[y : y + h, x : x + w] = 26000 + k
    cv2.imwrite(str(gt_dir / f'{name}_gtFine_instanceIds.png'), ids)
    cats = [dict(id=i + 1, name=n) for i, n in enumerate(
        ['person', 'rider', 'car', 'truck', 'bus', 'train', 'motorcycle',
         'bicycle'])]  # fmt: skip
    images = [
        dict(
            id=1,
            file_name=f'zurich/{name}_leftImg8bit.png',
            width=128,
            height=64,
            segm_file=f'zurich/{name}_gtFine_labelTrainIds.png',
        ),
        image(2, 'zurich/crowd_leftImg8bit.png', 128, 64),
    ]
    anns = [box_ann(k + 1, 1, 3, b) for k, b in enumerate(CITY_BOXES)]
    anns.append(box_ann(3, 2, 3, (0, 0, 40, 40)))
    anns[-1]['iscrowd'] = 1
    return write_json(root / 'instancesonly_filtered_gtFine_val.json',
                      images, anns, cats)  # fmt: skip


def city_cfg(root, ann, **kwargs):
    return dict(
        type='CityscapesDataset',
        ann_file=ann,
        img_prefix=str(root / 'leftImg8bit' / 'val') + '/',
        pipeline=[],
        **kwargs,
    )


def city_results(label=2):
    """Both cars found with their exact masks (as class ``label``)."""
    bbox = [np.zeros((0, 5), np.float32) for _ in range(8)]
    segm = [[] for _ in range(8)]
    rows = []
    for x, y, w, h in CITY_BOXES:
        mask = np.zeros((64, 128), np.uint8)
        mask[y : y + h, x : x + w] = 1
        segm[label].append(mask)
        rows.append([x, y, x + w, y + h, 0.9])
    bbox[label] = np.array(rows, np.float32)
    return [(bbox, segm), ([np.zeros((0, 5), np.float32)] * 8, [[]] * 8)]


def test_cityscapes_loading_and_coco_metric(tmp_path):
    ann = write_cityscapes(tmp_path)
    train = build_dataset(city_cfg(tmp_path, ann))
    assert len(train) == 1  # the crowd-only image is dropped
    info = train.get_ann_info(0)
    assert info['labels'].tolist() == [2, 2]
    assert (
        info['seg_map']
        == 'zurich/zurich_000000_000019_gtFine_labelTrainIds.png'
    )
    test = build_dataset(city_cfg(tmp_path, ann, test_mode=True))
    assert len(test) == 2
    result = test.evaluate(city_results(), metric=['bbox', 'segm'])
    assert result['bbox_mAP'] == 1.0 and result['segm_mAP'] == 1.0


def test_cityscapes_metric_by_hand(tmp_path):
    pytest.importorskip('cityscapesscripts')
    ann = write_cityscapes(tmp_path)
    ds = build_dataset(city_cfg(tmp_path, ann, test_mode=True))
    both = ds.evaluate(city_results(), metric=['cityscapes', 'bbox'])
    assert both['mAP'] == pytest.approx(1.0) and both['AP@50'] == 1.0
    assert both['bbox_mAP'] == 1.0
    out = tmp_path / 'txt'
    wrong = ds.evaluate(
        city_results(label=0), metric='cityscapes', outfile_prefix=str(out)
    )
    # predicted as persons: the cars are missed, persons have no ground
    # truth (left out of the mean)
    assert wrong['mAP'] == 0.0
    lines = (out / 'zurich_000000_000019_leftImg8bit_pred.txt').read_text()
    png, class_id, score = lines.splitlines()[0].split()
    assert class_id == '24' and float(score) == pytest.approx(0.9)
    assert png == 'zurich_000000_000019_leftImg8bit_0_person.png'
    mask = mmcv.imread(str(out / png), 'unchanged')
    assert mask.sum() == CITY_BOXES[0][2] * CITY_BOXES[0][3]


def test_cityscapes_missing_package(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'cityscapesscripts', None)
    ann = write_cityscapes(tmp_path)
    ds = build_dataset(city_cfg(tmp_path, ann, test_mode=True))
    with pytest.raises(ImportError, match='pip install cityscapesscripts'):
        ds.evaluate(city_results(), metric='cityscapes')


# -- WIDER FACE -------------------------------------------------------------


def test_wider_face(tmp_path):
    prefix = tmp_path / 'WIDER_train'
    (prefix / 'Annotations').mkdir(parents=True)
    (prefix / 'Annotations' / '0_Parade_1.xml').write_text(
        '<annotation><folder>0--Parade</folder>'
        '<filename>0_Parade_1.jpg</filename><size><width>120</width>'
        '<height>90</height><depth>3</depth></size>'
        '<object><name>face</name><difficult>0</difficult><bndbox>'
        '<xmin>11</xmin><ymin>21</ymin><xmax>40</xmax><ymax>60</ymax>'
        '</bndbox></object>'
        '<object><name>face</name><difficult>1</difficult><bndbox>'
        '<xmin>51</xmin><ymin>21</ymin><xmax>60</xmax><ymax>30</ymax>'
        '</bndbox></object></annotation>'
    )
    (tmp_path / 'train.txt').write_text('0_Parade_1\n')
    ds = build_dataset(
        dict(
            type='WIDERFaceDataset',
            ann_file=str(tmp_path / 'train.txt'),
            img_prefix=str(prefix) + '/',
            pipeline=[],
            min_size=17,
        )
    )
    info = ds.data_infos[0]
    assert info['filename'] == '0--Parade/0_Parade_1.jpg'
    assert (info['width'], info['height']) == (120, 90)
    ann = ds.get_ann_info(0)
    np.testing.assert_array_equal(ann['bboxes'], [[10, 20, 39, 59]])
    np.testing.assert_array_equal(ann['bboxes_ignore'], [[50, 20, 59, 29]])


def test_cityscapes_converter(tmp_path):
    pytest.importorskip('cityscapesscripts')
    from mmdet.datasets.converters import convert_cityscapes

    write_cityscapes(tmp_path)
    gt = tmp_path / 'gtFine' / 'val' / 'zurich'
    ids = cv2.imread(
        str(gt / 'zurich_000000_000019_gtFine_instanceIds.png'),
        cv2.IMREAD_UNCHANGED,
    )
    ids[50:60, 0:10] = 24  # a person crowd region (id < 1000)
    ids[0:5, 120:128] = 29000  # a caravan: ignored in evaluation
    cv2.imwrite(str(gt / 'zurich_000000_000019_gtFine_instanceIds.png'), ids)
    paths = convert_cityscapes(str(tmp_path), out_dir=str(tmp_path / 'ann'))
    assert [p.rsplit('/', 1)[1] for p in paths] == [
        'instancesonly_filtered_gtFine_val.json'
    ]
    coco = mmcv.load(paths[0])
    assert [c['id'] for c in coco['categories']] == [
        24, 25, 26, 27, 28, 31, 32, 33,
    ]  # fmt: skip
    img = coco['images'][0]
    assert img['file_name'] == 'zurich/zurich_000000_000019_leftImg8bit.png'
    assert (
        img['segm_file'] == 'zurich/zurich_000000_000019_gtFine_labelIds.png'
    )
    anns = sorted(coco['annotations'], key=lambda a: a['bbox'])
    assert [(a['category_id'], a['iscrowd']) for a in anns] == [
        (24, 1),
        (26, 0),
        (26, 0),
    ]
    assert [a['bbox'] for a in anns] == [[0, 50, 10, 10]] + [
        list(map(float, b)) for b in CITY_BOXES
    ]
    assert [a['area'] for a in anns] == [100, 600, 600]
    # the written json loads as a CityscapesDataset
    ds = build_dataset(
        city_cfg(tmp_path, paths[0], test_mode=True, classes=None)
    )
    assert ds.get_ann_info(0)['labels'].tolist() == [2, 2]


def test_cityscapes_converter_missing_package(tmp_path, monkeypatch):
    from mmdet.datasets.converters import convert_cityscapes

    monkeypatch.setitem(sys.modules, 'cityscapesscripts', None)
    monkeypatch.setitem(sys.modules, 'cityscapesscripts.helpers', None)
    with pytest.raises(ImportError, match='pip install cityscapesscripts'):
        convert_cityscapes(str(tmp_path))


def test_images2coco_cli(tmp_path, monkeypatch):
    imgs = tmp_path / 'imgs'
    (imgs / 'sub').mkdir(parents=True)
    mmcv.imwrite(np.zeros((20, 30, 3), np.uint8), str(imgs / 'a.jpg'))
    mmcv.imwrite(np.zeros((40, 10, 3), np.uint8), str(imgs / 'sub' / 'b.png'))
    (imgs / 'notes.txt').write_text('not an image')
    (tmp_path / 'classes.txt').write_text('cat\ndog\n')
    run_tool(
        'tools/dataset_converters/images2coco.py',
        [str(imgs), str(tmp_path / 'classes.txt'), 'test.json'],
        monkeypatch,
    )
    coco = mmcv.load(str(tmp_path / 'annotations' / 'test.json'))
    assert [
        (i['file_name'], i['width'], i['height']) for i in coco['images']
    ] == [
        ('a.jpg', 30, 20),
        ('sub/b.png', 10, 40),
    ]
    assert coco['categories'] == [
        dict(id=0, name='cat'),
        dict(id=1, name='dog'),
    ]
    assert coco['annotations'] == []
