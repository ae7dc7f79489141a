"""COCO evaluation: perfect results score 1.0, perturbed results score what
pycocotools' COCOeval gives for the same JSON, the per-class table and the
proposal metrics."""

import contextlib
import io
import json
import logging

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from mmdet.core.mask import encode_mask_results
from mmdet.datasets import build_dataset
from mmdet.datasets.pipelines.loading import poly2mask

NUM_CLASSES = 4


@pytest.fixture
def val_set(coco_cfg):
    return build_dataset(coco_cfg('val', test_mode=True))


def per_class(boxes, labels, scores):
    return [
        np.hstack([boxes[labels == c], scores[labels == c, None]])
        .astype(np.float32)
        .reshape(-1, 5)
        for c in range(NUM_CLASSES)
    ]


def ground_truth_results(ds, encode=True):
    """Per image ``(bbox_results, segm_results)`` equal to the ground
    truth (score 1)."""
    results = []
    for i, info in enumerate(ds.data_infos):
        ann = ds.get_ann_info(i)
        labels = ann['labels']
        bboxes = per_class(ann['bboxes'], labels, np.ones(len(labels)))
        masks = [
            poly2mask(m, info['height'], info['width']) for m in ann['masks']
        ]
        segms = [
            [m for m, lab in zip(masks, labels) if lab == c]
            for c in range(NUM_CLASSES)
        ]
        results.append(
            (bboxes, encode_mask_results(segms) if encode else segms)
        )
    return results


def capture_logger(name):
    stream = io.StringIO()
    logger = logging.getLogger(name)
    logger.handlers[:] = [logging.StreamHandler(stream)]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger, stream


def test_ground_truth_scores_one(val_set):
    logger, stream = capture_logger('test_coco_eval_gt')
    metrics = val_set.evaluate(
        ground_truth_results(val_set), metric=['bbox', 'segm'], logger=logger
    )
    for metric in ('bbox', 'segm'):
        for item in ('mAP', 'mAP_50', 'mAP_75'):
            assert metrics[f'{metric}_{item}'] == 1.0
        for item in ('mAP_s', 'mAP_m', 'mAP_l'):
            assert f'{metric}_{item}' in metrics
        assert metrics[f'{metric}_mAP_copypaste'].startswith(
            '1.000 1.000 1.000'
        )
    log = stream.getvalue()
    assert 'Evaluating bbox...' in log and 'Evaluating segm...' in log
    # COCOeval's 12-line summary per metric, maxDets as MMDetection sets
    assert (
        log.count('Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all')
        == 2
    )
    assert 'area=   all | maxDets=300 ]' in log
    assert log.count('Average Recall') == 12


def test_binary_masks_are_accepted(val_set):
    from_rle = val_set.evaluate(ground_truth_results(val_set), metric='segm')
    from_binary = val_set.evaluate(
        ground_truth_results(val_set, encode=False), metric='segm'
    )
    assert from_binary == from_rle and from_binary['segm_mAP'] == 1.0


def perturbed_results(ds, seed=0):
    """Ground truth boxes jittered by ~2 px with random scores, one in five
    dropped, plus one false positive per image."""
    rng = np.random.default_rng(seed)
    results = []
    for i, info in enumerate(ds.data_infos):
        ann = ds.get_ann_info(i)
        keep = rng.random(len(ann['labels'])) > 0.2
        boxes = ann['bboxes'][keep] + rng.normal(0, 2, (keep.sum(), 4))
        labels = ann['labels'][keep]
        fp_xy = rng.uniform(0, 60, 2)
        boxes = np.vstack([boxes, [*fp_xy, *(fp_xy + 30)]])
        labels = np.append(labels, rng.integers(NUM_CLASSES))
        results.append(
            per_class(boxes, labels, rng.uniform(0.05, 1, len(labels)))
        )
    return results


def test_perturbed_boxes_match_pycocotools(val_set, tmp_path):
    results = perturbed_results(val_set)
    prefix = str(tmp_path / 'res')
    metrics = val_set.evaluate(results, metric='bbox', jsonfile_prefix=prefix)

    # the written JSON is the results in COCO's terms
    expected_json = [
        dict(
            image_id=img_id,
            category_id=val_set.cat_ids[c],
            bbox=[b[0], b[1], b[2] - b[0], b[3] - b[1]],
            score=b[4],
        )
        for img_id, res in zip(val_set.img_ids, results)
        for c, boxes in enumerate(res)
        for b in boxes
    ]
    written = json.load(open(prefix + '.bbox.json'))
    assert len(written) == len(expected_json)
    for got, want in zip(written, expected_json):
        assert got['image_id'] == want['image_id']
        assert got['category_id'] == want['category_id']
        np.testing.assert_allclose(got['bbox'], want['bbox'], rtol=1e-6)
        assert got['score'] == pytest.approx(want['score'], rel=1e-6)

    # plain COCOeval (default parameters) on that file
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(val_set.ann_file)
        coco_eval = COCOeval(
            coco_gt, coco_gt.loadRes(prefix + '.bbox.json'), 'bbox'
        )
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
    names = ['mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l']
    for i, name in enumerate(names):
        assert metrics[f'bbox_{name}'] == float(f'{coco_eval.stats[i]:.3f}')
    assert 0.2 < metrics['bbox_mAP'] < 0.95


def test_classwise_table_has_one_row_per_class(val_set, tiny_classes):
    logger, stream = capture_logger('test_coco_eval_classwise')
    val_set.evaluate(
        perturbed_results(val_set),
        metric='bbox',
        classwise=True,
        logger=logger,
    )
    table = [
        line for line in stream.getvalue().splitlines() if line.startswith('|')
    ]
    assert table[0].split('|')[1].strip() == 'category'
    rows = [line.split('|')[1].strip() for line in table[1:]]
    assert rows == list(tiny_classes)
    for line in table[1:]:
        assert len(line.split('|')) == 9  # name + 6 numbers


def test_proposal_metrics(val_set):
    proposals = [
        np.hstack(
            [
                val_set.get_ann_info(i)['bboxes'],
                np.ones((len(val_set.get_ann_info(i)['bboxes']), 1)),
            ]
        ).astype(np.float32)
        for i in range(len(val_set))
    ]
    metrics = val_set.evaluate(proposals, metric=['proposal', 'proposal_fast'])
    assert metrics['AR@100'] == 1.0 and metrics['AR@1000'] == 1.0
    assert set(metrics) == {
        'AR@100',
        'AR@300',
        'AR@1000',
        'AR_s@1000',
        'AR_m@1000',
        'AR_l@1000',
    }
    # half of the proposals shifted away: recall drops
    shifted = [p.copy() for p in proposals]
    for p in shifted:
        p[::2, :4] += 200
    fast = val_set.evaluate(shifted, metric='proposal_fast')
    assert 0 < fast['AR@100'] < 1
    on_boxes = val_set.evaluate(
        perturbed_results(val_set), metric='proposal', metric_items=['AR@100']
    )
    assert list(on_boxes) == ['AR@100'] and 0 < on_boxes['AR@100'] < 1


def test_bad_calls(val_set):
    results = perturbed_results(val_set)
    with pytest.raises(KeyError, match='mAP'):
        val_set.evaluate(results, metric='mAP')
    with pytest.raises(ValueError, match='results'):
        val_set.evaluate(results[:-1])
    with pytest.raises(KeyError, match='segm'):
        val_set.evaluate(results, metric='segm')
    with pytest.raises(KeyError, match='metric item'):
        val_set.evaluate(results, metric_items=['mAP_xl'])
    only = val_set.evaluate(results, metric_items='mAP_50')
    assert set(only) == {'bbox_mAP_50', 'bbox_mAP_copypaste'}
    files, tmp_dir = val_set.format_results(results)
    assert set(files) == {'bbox', 'proposal'} and tmp_dir is not None
    tmp_dir.cleanup()
