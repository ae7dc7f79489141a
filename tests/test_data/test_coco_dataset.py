"""CocoDataset on the tiny set and on hand-written annotation files:
parsing, filtering, group flags, retries, wrappers and error messages."""

import json
import shutil

import mmcv
import numpy as np
import pytest

from mmdet.datasets import (
    DATASETS,
    CocoDataset,
    ConcatDataset,
    CustomDataset,
    RepeatDataset,
    build_dataset,
)

LOAD = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
]


def write_coco(tmp_path, images, annotations, names=('a', 'b')):
    """A COCO JSON in tmp_path/ann.json and black images in tmp_path/img."""
    (tmp_path / 'img').mkdir(exist_ok=True)
    for img in images:
        mmcv.imwrite(
            np.zeros((img['height'], img['width'], 3), np.uint8),
            str(tmp_path / 'img' / img['file_name']),
        )
    cats = [dict(id=10 * (i + 1), name=n) for i, n in enumerate(names)]
    path = tmp_path / 'ann.json'
    path.write_text(
        json.dumps(
            dict(images=images, annotations=annotations, categories=cats)
        )
    )
    return str(path), str(tmp_path / 'img')


def ann(id, image_id, bbox, cat=10, iscrowd=0, area=None, **kw):
    x, y, w, h = bbox
    return dict(
        id=id,
        image_id=image_id,
        bbox=bbox,
        category_id=cat,
        iscrowd=iscrowd,
        area=w * h if area is None else area,
        segmentation=[[x, y, x + w, y, x + w, y + h, x, y + h]],
        **kw,
    )


@pytest.fixture
def hand_made(tmp_path):
    images = [
        dict(id=1, file_name='1.png', height=40, width=60),
        dict(id=2, file_name='2.png', height=50, width=40),
        dict(id=3, file_name='3.png', height=20, width=80),  # < 32
        dict(id=4, file_name='4.png', height=40, width=40),
    ]  # empty
    annotations = [
        ann(1, 1, [5, 5, 10, 20]),
        ann(2, 1, [20, 10, 10, 10], cat=20),
        ann(3, 1, [0, 0, 30, 30], iscrowd=1),
        ann(4, 1, [50, 30, 0.5, 5]),  # narrower than a pixel
        ann(5, 1, [70, 50, 5, 5]),  # entirely outside the image
        ann(6, 1, [1, 1, 5, 5], ignore=True),
        ann(7, 1, [1, 1, 5, 5], cat=99),  # unknown category
        ann(8, 2, [2, 3, 4, 5], cat=20),
        ann(9, 3, [1, 1, 5, 5]),
    ]
    return write_coco(tmp_path, images, annotations)


def test_parse_annotations(hand_made):
    ann_file, img_prefix = hand_made
    ds = CocoDataset(
        ann_file,
        LOAD,
        classes=('a', 'b'),
        img_prefix=img_prefix,
        test_mode=True,
    )
    assert len(ds) == 4 and ds.cat_ids == [10, 20]
    assert ds.cat2label == {10: 0, 20: 1}
    info = ds.get_ann_info(0)
    np.testing.assert_array_equal(
        info['bboxes'], [[5, 5, 15, 25], [20, 10, 30, 20]]
    )
    np.testing.assert_array_equal(info['labels'], [0, 1])
    np.testing.assert_array_equal(info['bboxes_ignore'], [[0, 0, 30, 30]])
    assert info['bboxes'].dtype == np.float32
    assert len(info['masks']) == 2 and info['seg_map'] == '1.png'
    assert ds.get_cat_ids(1) == [20]
    empty = ds.get_ann_info(3)
    assert empty['bboxes'].shape == (0, 4) and empty['labels'].shape == (0,)
    # aspect-ratio groups are for the training samplers: none in test
    # mode (as in MMDetection)
    assert not hasattr(ds, 'flag')
    train = CocoDataset(
        ann_file,
        LOAD,
        classes=('a', 'b'),
        img_prefix=img_prefix,
        filter_empty_gt=False,
    )
    landscape = [int(i['width'] > i['height']) for i in train.data_infos]
    assert train.flag.tolist() == landscape and landscape[:2] == [1, 0]


def test_training_filters_small_and_empty_images(hand_made):
    ann_file, img_prefix = hand_made
    train = CocoDataset(
        ann_file, LOAD, classes=('a', 'b'), img_prefix=img_prefix
    )
    assert [info['id'] for info in train.data_infos] == [1, 2]
    assert train.img_ids == [1, 2]
    keep_empty = CocoDataset(
        ann_file,
        LOAD,
        classes=('a', 'b'),
        img_prefix=img_prefix,
        filter_empty_gt=False,
    )
    assert [info['id'] for info in keep_empty.data_infos] == [1, 2, 4]
    only_b = CocoDataset(ann_file, LOAD, classes=('b',), img_prefix=img_prefix)
    assert [info['id'] for info in only_b.data_infos] == [1, 2]
    assert only_b.get_ann_info(0)['labels'].tolist() == [0]


def test_training_sample_from_pipeline(hand_made):
    ann_file, img_prefix = hand_made
    ds = CocoDataset(ann_file, LOAD, classes=('a', 'b'), img_prefix=img_prefix)
    sample = ds[0]
    assert sample['img'].shape == (40, 60, 3)
    np.testing.assert_array_equal(sample['gt_bboxes_ignore'], [[0, 0, 30, 30]])
    masks = sample['gt_masks'].to_ndarray()
    assert masks.shape == (2, 40, 60)
    assert masks[0, 5:25, 5:15].all() and masks[0].sum() == 200
    test_sample = CocoDataset(
        ann_file,
        [dict(type='LoadImageFromFile')],
        classes=('a', 'b'),
        img_prefix=img_prefix,
        test_mode=True,
    )[0]
    assert 'ann_info' not in test_sample


def test_retries_another_sample_of_the_same_group(hand_made):
    ann_file, img_prefix = hand_made
    drop_first = [lambda r: None if r['img_info']['id'] == 1 else r]
    ds = CocoDataset(
        ann_file,
        drop_first,
        classes=('a', 'b'),
        img_prefix=img_prefix,
        filter_empty_gt=False,
    )
    np.random.seed(0)
    # image 1 is landscape, its group is {1}; image 4 is square (group 0)
    ds.flag[:] = 0
    for _ in range(5):
        assert ds[0]['img_info']['id'] in (2, 4)
    always_none = CocoDataset(
        ann_file, [lambda r: None], classes=('a', 'b'), img_prefix=img_prefix
    )
    with pytest.raises(RuntimeError, match='dropped'):
        always_none[0]


def test_tiny_coco_dataset(coco_cfg, tiny_classes):
    train = build_dataset(coco_cfg('train', LOAD))
    test = build_dataset(coco_cfg('val', LOAD, test_mode=True))
    assert train.CLASSES == tiny_classes and len(train.PALETTE) == 4
    raw = json.load(open(train.ann_file))
    non_empty = {a['image_id'] for a in raw['annotations']}
    assert len(train) == len(non_empty) < len(raw['images'])
    assert len(test) == 8
    crowd_images = {a['image_id'] for a in raw['annotations'] if a['iscrowd']}
    assert crowd_images, 'the tiny set has crowd regions'
    idx = train.img_ids.index(sorted(crowd_images)[0])
    info = train.get_ann_info(idx)
    assert len(info['bboxes_ignore']) == 1
    assert len(info['bboxes']) == len(info['labels']) == len(info['masks'])
    sample = train[idx]
    assert sample['gt_masks'].to_ndarray().shape[0] == len(info['bboxes'])
    assert set(np.unique(train.flag)) <= {0, 1}
    for i, img_info in enumerate(train.data_infos):
        assert train.flag[i] == int(img_info['width'] / img_info['height'] > 1)


def test_default_coco_classes_on_the_tiny_set_explain_classes(coco_cfg):
    cfg = coco_cfg('val', LOAD)
    cfg.pop('classes')
    with pytest.raises(ValueError, match='classes='):
        build_dataset(cfg)


def test_classes_from_a_file(coco_cfg, tmp_path, tiny_classes):
    names = tmp_path / 'names.txt'
    names.write_text('triangle\ncircle\n')
    with pytest.warns(UserWarning, match='order'):
        ds = build_dataset(dict(coco_cfg('val', LOAD), classes=str(names)))
    assert ds.CLASSES == ['triangle', 'circle']
    assert len(ds.cat_ids) == 2


def test_wrappers_and_ann_file_lists(coco_cfg):
    train = build_dataset(coco_cfg('train', LOAD))
    val = build_dataset(coco_cfg('val', LOAD, test_mode=True))
    both = build_dataset(
        [coco_cfg('train', LOAD), coco_cfg('val', LOAD, test_mode=True)]
    )
    assert isinstance(both, ConcatDataset)
    assert len(both) == len(train) + len(val)
    assert not hasattr(both, 'flag')  # the test-mode part has no groups
    twice = build_dataset([coco_cfg('train', LOAD)] * 2)
    assert twice.flag.tolist() == train.flag.tolist() * 2
    assert (
        both.get_ann_info(len(train))['bboxes'].tolist()
        == val.get_ann_info(0)['bboxes'].tolist()
    )
    assert both.get_cat_ids(len(train) + 1) == val.get_cat_ids(1)

    cfg = coco_cfg('train', LOAD)
    listed = build_dataset(
        dict(
            cfg,
            ann_file=[cfg['ann_file']] * 2,
            img_prefix=[cfg['img_prefix']] * 2,
        )
    )
    assert isinstance(listed, ConcatDataset) and len(listed) == 2 * len(train)

    repeated = build_dataset(
        dict(type='RepeatDataset', times=3, dataset=coco_cfg('train', LOAD))
    )
    assert isinstance(repeated, RepeatDataset)
    assert len(repeated) == 3 * len(train)
    assert repeated.flag.tolist() == train.flag.tolist() * 3
    assert repeated[len(train)]['img_info']['id'] == train.data_infos[0]['id']
    assert repeated.CLASSES == train.CLASSES

    concat = build_dataset(
        dict(
            type='ConcatDataset',
            datasets=[coco_cfg('val', LOAD, test_mode=True)] * 2,
        )
    )
    assert len(concat) == 16 and concat.separate_eval is True
    # as in MMDetection, COCO parts cannot be evaluated as one (refused
    # when the data set is built, not after testing)
    with pytest.raises(NotImplementedError, match='separate_eval=True'):
        build_dataset(
            dict(
                type='ConcatDataset',
                datasets=[coco_cfg('val', LOAD, test_mode=True)] * 2,
                separate_eval=False,
            )
        )

    balanced = build_dataset(
        dict(
            type='ClassBalancedDataset',
            oversample_thr=0.9,
            dataset=coco_cfg('train', LOAD),
        )
    )
    assert len(balanced) >= len(train)


def test_missing_annotation_file_and_image_folder(tmp_path, coco_cfg):
    missing_ann = str(tmp_path / 'tiny_coco' / 'annotations' / 'x.json')
    with pytest.raises(FileNotFoundError) as err:
        build_dataset(dict(coco_cfg('val', LOAD), ann_file=missing_ann))
    assert missing_ann in str(err.value)
    assert 'make_tiny_coco.py' in str(err.value)

    with pytest.raises(FileNotFoundError) as err:
        CocoDataset(
            'data/coco/annotations/instances_val2017.json',
            LOAD,
            data_root=str(tmp_path),
        )
    assert str(tmp_path / 'data/coco/annotations') in str(err.value)
    assert 'data/coco' in str(err.value)

    missing_dir = str(tmp_path / 'nowhere') + '/'
    with pytest.raises(FileNotFoundError, match='nowhere'):
        build_dataset(dict(coco_cfg('val', LOAD), img_prefix=missing_dir))


def test_missing_or_corrupt_image_is_named(tiny_coco, tmp_path, coco_cfg):
    root = tmp_path / 'copy'
    shutil.copytree(tiny_coco, root)
    cfg = coco_cfg('val', LOAD, test_mode=True)
    cfg.update(
        ann_file=str(root / 'annotations' / 'instances_val.json'),
        img_prefix=str(root / 'val'),
    )
    ds = build_dataset(cfg)
    (root / 'val' / ds.data_infos[0]['filename']).unlink()
    with pytest.raises(FileNotFoundError, match=ds.data_infos[0]['filename']):
        ds[0]
    (root / 'val' / ds.data_infos[1]['filename']).write_bytes(b'\xff\xd8xx')
    with pytest.raises(OSError, match=ds.data_infos[1]['filename']):
        ds[1]


def test_custom_dataset_middle_format(tmp_path):
    mmcv.imwrite(np.zeros((40, 50, 3), np.uint8), str(tmp_path / 'a.jpg'))
    infos = [
        dict(
            filename='a.jpg',
            width=50,
            height=40,
            ann=dict(
                bboxes=np.array([[1, 2, 3, 4]], np.float32),
                labels=np.array([1]),
            ),
        ),
        dict(
            filename='tiny.jpg',
            width=20,
            height=40,
            ann=dict(
                bboxes=np.zeros((0, 4), np.float32),
                labels=np.zeros(0, np.int64),
            ),
        ),
    ]
    mmcv.dump(infos, str(tmp_path / 'ann.pkl'))
    with pytest.warns(UserWarning):
        ds = CustomDataset(
            'ann.pkl',
            [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')],
            classes=('x', 'y'),
            data_root=str(tmp_path),
        )
    assert len(ds) == 1 and ds.get_cat_ids(0) == [1]
    assert ds[0]['gt_labels'].tolist() == [1]
    assert 'CustomDataset' in DATASETS.module_dict
    with pytest.raises(KeyError, match='CocoDataset'):
        build_dataset(dict(type='CocoDatset', ann_file='x', pipeline=[]))


def test_some_classes_missing_warns_and_numbers_those_found(coco_cfg):
    """As in MMDetection 2.28 (which says nothing), categories missing from
    the file are skipped and the labels number the ones found; a warning
    names them. None found at all is an error (previous test)."""
    cfg = coco_cfg('val', LOAD)
    with pytest.warns(UserWarning, match=r"\['unicorn'\] are not categories"):
        ds = build_dataset(dict(cfg, classes=('unicorn', 'circle')))
    circle = ds.coco.get_cat_ids(cat_names=['circle'])
    assert ds.cat_ids == circle and ds.cat2label == {circle[0]: 0}
