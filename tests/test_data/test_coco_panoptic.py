"""COCO panoptic: PQ / SQ / RQ on a hand-made 10 x 10 case (a match, a
miss with its false positive, a prediction on a crowd region and one on
VOID, both ignored), CocoPanopticDataset loading, LoadPanopticAnnotations
and evaluate / results2json on the same case."""

import json

import mmcv
import numpy as np
import pytest

from mmdet.core.evaluation.panoptic import (
    id2rgb,
    pq_compute_single_image,
    pq_results,
    rgb2id,
)
from mmdet.datasets import build_dataset
from mmdet.datasets.pipelines import LoadPanopticAnnotations

# gt in the top-left 10 x 10 of a 40 x 40 image (the rest VOID): A
# (person, rows 0-1), B (person, row 2), S (banner, rows 3-5), C (person
# crowd, rows 6-7), VOID (rows 8-9)
GT = np.zeros((40, 40), np.int64)
GT[0:2, :10], GT[2, :10], GT[3:6, :10], GT[6:8, :10] = 1, 2, 3, 4
SEGMENTS = [
    dict(id=1, category_id=1, iscrowd=0, bbox=[0, 0, 10, 2], area=20),
    dict(id=2, category_id=1, iscrowd=0, bbox=[0, 2, 10, 1], area=10),
    dict(id=3, category_id=2, iscrowd=0, bbox=[0, 3, 10, 3], area=30),
    dict(id=4, category_id=1, iscrowd=1, bbox=[0, 6, 10, 2], area=20),
]
CATEGORIES = {
    1: dict(id=1, name='person', isthing=1),
    2: dict(id=2, name='banner', isthing=0),
}


def prediction_labels():
    """(label, instance) per pixel as results hold them: a = 16 px inside
    A (IoU 0.8); b = 4 px of B and 6 of S (IoU 0.25 with B); s = the rest
    of S (IoU 0.8); c = 10 px inside the crowd; v = banner on VOID."""
    pan = np.full((40, 40), 2, np.int64)  # 2 = len(CLASSES): VOID
    pan[0:2, 0:8] = 0 + 1 * 1000  # a
    pan[3:6, 0:10] = 1  # s
    pan[2, 0:4] = pan[3, 0:6] = 0 + 2 * 1000  # b
    pan[6:8, 0:5] = 0 + 3 * 1000  # c
    pan[8:10, 0:6] = 1 + 1 * 1000  # v
    return pan


def expected():
    # person: TP (IoU 0.8), FP b, FN B -> PQ 0.8 / 2, SQ 0.8, RQ 0.5;
    # banner: TP (IoU 24 / 30) -> PQ = SQ = 0.8, RQ 1
    return dict(PQ=60.0, SQ=80.0, RQ=75.0, PQ_th=40.0, SQ_th=80.0,
                RQ_th=50.0, PQ_st=80.0, SQ_st=80.0, RQ_st=100.0)  # fmt: skip


def test_pq_by_hand():
    pan = prediction_labels()
    segs = [
        dict(id=i, category_id=1 + i % 1000)
        for i in (1000, 2000, 3000, 1, 1001)
    ]
    pred = np.where(pan == 2, 0, pan)
    stat = pq_compute_single_image(
        dict(segments_info=SEGMENTS), dict(segments_info=segs), GT, pred
    )
    assert (stat[1].tp, stat[1].fp, stat[1].fn) == (1, 1, 1)
    assert (stat[2].tp, stat[2].fp, stat[2].fn) == (1, 0, 0)
    values = pq_results(stat, CATEGORIES)
    for key, value in expected().items():
        assert values[key] == pytest.approx(value), key
    with pytest.raises(KeyError, match='json'):
        pq_compute_single_image(
            dict(segments_info=SEGMENTS),
            dict(segments_info=segs[:4]),
            GT,
            pred,
        )


def test_rgb_id_round_trip():
    ids = np.array([[0, 1, 255 + 256 * 3, 1000 + 256 * 256 * 7]])
    assert rgb2id(id2rgb(ids)).tolist() == ids.tolist()


def write_panoptic(tmp_path):
    (tmp_path / 'img').mkdir()
    (tmp_path / 'pan').mkdir()
    mmcv.imwrite(np.zeros((40, 40, 3), np.uint8), str(tmp_path / 'img/a.jpg'))
    mmcv.imwrite(id2rgb(GT)[:, :, ::-1], str(tmp_path / 'pan/a.png'))
    ann = dict(
        images=[dict(id=7, file_name='a.jpg', width=40, height=40)],
        annotations=[
            dict(image_id=7, file_name='a.png', segments_info=SEGMENTS)
        ],
        categories=list(CATEGORIES.values()),
    )
    (tmp_path / 'pan.json').write_text(json.dumps(ann))
    return dict(
        type='CocoPanopticDataset',
        ann_file=str(tmp_path / 'pan.json'),
        img_prefix=str(tmp_path / 'img'),
        seg_prefix=str(tmp_path / 'pan'),
        classes=('person', 'banner'),
        pipeline=[],
    )


def test_loading_and_load_panoptic_annotations(tmp_path):
    ds = build_dataset(write_panoptic(tmp_path))
    assert len(ds) == 1
    ann = ds.get_ann_info(0)
    np.testing.assert_array_equal(
        ann['bboxes'], [[0, 0, 10, 2], [0, 2, 10, 3]]
    )
    assert ann['labels'].tolist() == [0, 0]
    np.testing.assert_array_equal(ann['bboxes_ignore'], [[0, 6, 10, 8]])
    assert [(m['id'], m['category'], m['is_thing']) for m in ann['masks']] == [
        (1, 0, True), (2, 0, True), (3, 1, False), (4, 0, False),
    ]  # fmt: skip
    assert ann['seg_map'] == 'a.png'
    results = dict(img_info=ds.data_infos[0], ann_info=ann)
    ds.pre_pipeline(results)
    out = LoadPanopticAnnotations()(results)
    masks = out['gt_masks'].to_ndarray()
    np.testing.assert_array_equal(masks, [GT == 1, GT == 2])
    seg = out['gt_semantic_seg']
    assert seg[0, 0] == 0 and seg[4, 0] == 1 and seg[7, 0] == 0
    assert seg[9, 9] == 255 and seg[20, 20] == 255
    assert out['gt_bboxes'].shape == (2, 4)


def test_evaluate_and_results2json(tmp_path):
    ds = build_dataset(dict(write_panoptic(tmp_path), test_mode=True))
    result = ds.evaluate(
        [dict(pan_results=prediction_labels())],
        jsonfile_prefix=str(tmp_path / 'out' / 'res'),
    )
    for key, value in expected().items():
        assert result[key] == pytest.approx(value), key
    assert result['PQ_copypaste'].startswith('60.000 80.000 75.000')
    pred = mmcv.load(str(tmp_path / 'out' / 'res.panoptic.json'))
    record = pred['annotations'][0]
    assert record['image_id'] == 7 and record['file_name'] == 'a.png'
    assert {s['id']: s['area'] for s in record['segments_info']} == {
        1: 24, 1000: 16, 1001: 12, 2000: 10, 3000: 10,
    }  # fmt: skip
    png = mmcv.imread(str(tmp_path / 'out/panoptic/a.png'), 'color',
                      channel_order='rgb')  # fmt: skip
    np.testing.assert_array_equal(
        rgb2id(png), np.where(prediction_labels() == 2, 0, prediction_labels())
    )
    with pytest.raises(KeyError, match='PQ'):
        ds.evaluate([dict(pan_results=prediction_labels())], metric='mIoU')
    with pytest.raises(KeyError, match='ins_ann_file'):
        ds.evaluate([dict(pan_results=prediction_labels())], metric='bbox')


def test_evaluate_instance_results(tmp_path):
    """'bbox' / 'segm' of the 'ins_results' against the instance json: A
    and B found exactly (AP 1), then B missed (AP 0.5 at every IoU)."""

    def box_ann(ann_id, x, y, w, h):
        poly = [x, y, x + w, y, x + w, y + h, x, y + h]
        return dict(id=ann_id, image_id=7, category_id=1, bbox=[x, y, w, h],
                    area=w * h, iscrowd=0, segmentation=[poly])  # fmt: skip

    ins = dict(
        images=[dict(id=7, file_name='a.jpg', width=40, height=40)],
        annotations=[box_ann(1, 0, 0, 10, 2), box_ann(2, 0, 2, 10, 1)],
        categories=[CATEGORIES[1]],
    )
    (tmp_path / 'ins.json').write_text(json.dumps(ins))
    cfg = dict(write_panoptic(tmp_path), test_mode=True)
    ds = build_dataset(dict(cfg, ins_ann_file=str(tmp_path / 'ins.json')))
    boxes = np.array([[0, 0, 10, 2, 0.9], [0, 2, 10, 3, 0.8]], np.float32)
    masks = [GT == 1, GT == 2]

    def evaluate(n):
        result = dict(ins_results=([boxes[:n]], [masks[:n]]))
        return ds.evaluate([result], metric=['bbox', 'segm'])

    both = evaluate(2)
    assert both['bbox_mAP'] == pytest.approx(1.0)
    assert both['segm_mAP'] == pytest.approx(1.0)
    one = evaluate(1)
    assert one['bbox_mAP_50'] == pytest.approx(0.5, abs=0.01)
    assert one['segm_mAP'] == pytest.approx(0.5, abs=0.01)
