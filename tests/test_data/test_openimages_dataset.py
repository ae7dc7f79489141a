"""OpenImagesDataset / OpenImagesChallengeDataset on hand-written files:
csv / txt parsing, the class hierarchy, image-level labels, and mAP with
group-of boxes, supercategories and label filtering derived by hand."""

import json

import mmcv
import numpy as np
import pytest

from mmdet.datasets import build_dataset

HEADER = (
    'ImageID,Source,LabelName,Confidence,XMin,XMax,YMin,YMax,IsOccluded,'
    'IsTruncated,IsGroupOf,IsDepiction,IsInside\n'
)
# Bird [10, 10, 30, 30] and a group of cats [50, 0, 90, 50] in img1
# (100 x 50); a cat [0, 0, 40, 20] in img2 (80 x 40)
BOXES = (
    'img1,x,/m/b,1,0.1,0.3,0.2,0.6,0,1,0,0,0\n'
    'img1,x,/m/c,1,0.5,0.9,0.0,1.0,0,0,1,0,0\n'
    'img2,x,/m/c,1,0.0,0.5,0.0,0.5,1,0,0,0,0\n'
)
SIZES = {'img1': (50, 100), 'img2': (40, 80)}


def write_common(tmp_path):
    prefix = tmp_path / 'img'
    prefix.mkdir()
    for name, (h, w) in SIZES.items():
        mmcv.imwrite(
            np.zeros((h, w, 3), np.uint8), str(prefix / f'{name}.jpg')
        )
    mmcv.dump(
        [
            dict(filename=f'{n}.jpg', ori_shape=(h, w, 3))
            for n, (h, w) in SIZES.items()
        ],
        str(tmp_path / 'metas.pkl'),
    )
    return prefix


def write_v6(tmp_path):
    prefix = write_common(tmp_path)
    (tmp_path / 'boxes.csv').write_text(HEADER + BOXES)
    (tmp_path / 'labels.csv').write_text(
        '/m/a,Animal\n/m/b,Bird\n/m/c,Cat\n/m/d,Dog\n'
    )
    tree = dict(
        LabelName='/m/root',
        Subcategory=[
            dict(
                LabelName='/m/a',
                Subcategory=[
                    dict(LabelName='/m/b'),
                    dict(LabelName='/m/c'),
                    dict(LabelName='/m/d'),
                ],
            )
        ],
    )
    (tmp_path / 'tree.json').write_text(json.dumps(tree))
    (tmp_path / 'image_labels.csv').write_text(
        'ImageID,Source,LabelName,Confidence\nimg2,x,/m/b,1\n'
    )
    return dict(
        type='OpenImagesDataset',
        ann_file=str(tmp_path / 'boxes.csv'),
        label_file=str(tmp_path / 'labels.csv'),
        hierarchy_file=str(tmp_path / 'tree.json'),
        image_level_ann_file=str(tmp_path / 'image_labels.csv'),
        meta_file=str(tmp_path / 'metas.pkl'),
        img_prefix=str(prefix),
        pipeline=[],
        test_mode=True,
    )


def test_v6_loading_and_hierarchy(tmp_path):
    ds = build_dataset(write_v6(tmp_path))
    assert ds.CLASSES == ['Animal', 'Bird', 'Cat', 'Dog']
    assert [i['filename'] for i in ds.data_infos] == ['img1.jpg', 'img2.jpg']
    ann = ds.get_ann_info(0)
    np.testing.assert_allclose(
        ann['bboxes'], [[0.1, 0.2, 0.3, 0.6], [0.5, 0.0, 0.9, 1.0]]
    )
    assert ann['labels'].tolist() == [1, 2]
    assert ann['gt_is_group_ofs'].tolist() == [False, True]
    assert ann['is_truncateds'].tolist() == [True, False]
    assert ds.get_ann_info(1)['is_occludeds'].tolist() == [True]
    # [i, j] = 1 where j is i or an ancestor of i
    expected = np.eye(4)
    expected[1:, 0] = 1
    np.testing.assert_array_equal(ds.class_label_tree, expected)
    levels = ds.get_image_level_ann(ds.image_level_ann_file)
    assert [lv['image_level_labels'].tolist() for lv in levels] == [[], [1]]


def results(num_classes=4, dog=True):
    """img1: the bird found (0.9), two cats inside the group (0.8, 0.7), a
    dog where img1 has none (0.95); img2: a bird that is not there (0.5;
    img2 is labelled bird at image level), its cat missed."""
    per = [[np.zeros((0, 5), np.float32) for _ in range(num_classes)]
           for _ in range(2)]  # fmt: skip
    per[0][1] = np.array([[10, 10, 30, 30, 0.9]], np.float32)
    per[0][2] = np.array(
        [[55, 5, 70, 30, 0.8], [60, 10, 85, 40, 0.7]], np.float32
    )
    if dog:
        per[0][3] = np.array([[0, 0, 5, 5, 0.95]], np.float32)
    per[1][1] = np.array([[50, 0, 70, 20, 0.5]], np.float32)
    return per


@pytest.mark.parametrize('load_from_file', [True, False])
def test_v6_map_by_hand(tmp_path, load_from_file):
    ds = build_dataset(dict(write_v6(tmp_path), load_from_file=load_from_file))
    result = ds.evaluate(results(), logger='silent')
    # bird: TP 0.9, FP 0.5 -> AP 1; cat: the group-of box (0.8) of 2 gt
    # boxes -> AP 0.5; animal (every box and detection copied up; the dog
    # detection is dropped from 'Dog' and kept as an animal): FP 0.95,
    # TP 0.9, TP 0.8 (group), FP 0.5 of 3 gt -> AP 4/9; dog: no gt
    expected = (1 + 0.5 + 4 / 9) / 3
    assert result['mAP'] == pytest.approx(expected, abs=1e-6)
    assert result['AP50'] == round(expected, 3)
    # without group-of boxes the two cats are false positives (the first
    # at IoU 375 / 2000 with the group box)
    plain = ds.evaluate(results(dog=False), use_group_of=False,
                        logger='silent')  # fmt: skip
    # bird 1; cat 0; animal: TP 0.9, FP 0.8, FP 0.7, FP 0.5 of 3 -> 1/3
    assert plain['mAP'] == pytest.approx((1 + 0 + 1 / 3) / 3, abs=1e-6)


def test_challenge(tmp_path):
    prefix = write_common(tmp_path)
    (tmp_path / 'boxes.txt').write_text(
        'img1.jpg\n100 50\n2\n'
        '2 0.1 0.2 0.3 0.6 0\n'
        '3 0.5 0.0 0.9 1.0 1\n'
        'img2.jpg\n80 40\n1\n'
        '3 0.0 0.0 0.5 0.5 0\n'
    )
    (tmp_path / 'labels.csv').write_text(
        '/m/b,Bird,2\n/m/a,Animal,1\n/m/c,Cat,3\n'
    )
    tree = np.eye(4)
    tree[2:, 1] = 1  # row/column 0 is the root
    np.save(str(tmp_path / 'tree.npy'), tree)
    (tmp_path / 'image_labels.csv').write_text(
        'ImageID,LabelName,Confidence\nimg2,/m/b,1\n'
    )
    ds = build_dataset(
        dict(
            type='OpenImagesChallengeDataset',
            ann_file=str(tmp_path / 'boxes.txt'),
            label_file=str(tmp_path / 'labels.csv'),
            hierarchy_file=str(tmp_path / 'tree.npy'),
            image_level_ann_file=str(tmp_path / 'image_labels.csv'),
            meta_file=str(tmp_path / 'metas.pkl'),
            img_prefix=str(prefix),
            pipeline=[],
            test_mode=True,
        )
    )
    assert ds.CLASSES == ['Animal', 'Bird', 'Cat']
    assert ds.get_ann_info(0)['labels'].tolist() == [1, 2]
    assert ds.get_ann_info(0)['gt_is_group_ofs'].tolist() == [False, True]
    result = ds.evaluate(results(3, dog=False), logger='silent')
    # bird 1, cat 0.5, animal: TP 0.9, TP 0.8 (group), FP 0.5 -> 2/3
    assert result['mAP'] == pytest.approx((1 + 0.5 + 2 / 3) / 3, abs=1e-6)
    with pytest.raises(ValueError, match='txt'):
        build_dataset(
            dict(type='OpenImagesChallengeDataset',
                 ann_file=str(tmp_path / 'boxes.csv'),
                 label_file=str(tmp_path / 'labels.csv'), pipeline=[])
        )  # fmt: skip


def test_image_metas_match_the_meta_file(tmp_path):
    ds = build_dataset(write_v6(tmp_path))
    assert ds.image_metas() == mmcv.load(str(tmp_path / 'metas.pkl'))
