"""MMDetection 2.x's numpy evaluation API: bbox_overlaps, eval_map /
average_precision, eval_recalls / average_recall, get_classes and
CustomDataset.evaluate, on hand-computed cases."""

import numpy as np
import pytest

from mmdet.core.evaluation import (
    average_precision,
    average_recall,
    bbox_overlaps,
    coco_classes,
    eval_map,
    eval_recalls,
    get_classes,
    plot_iou_recall,
    plot_num_recall,
    print_map_summary,
    print_recall_summary,
    voc_classes,
)
from mmdet.core.evaluation.mean_ap import tpfp_default
from mmdet.datasets import ConcatDataset, CustomDataset
from mmdet.datasets.coco import CocoDataset


def box(x1, y1, x2, y2, score=None):
    return [x1, y1, x2, y2] + ([] if score is None else [score])


def arr(*rows, cols=5):
    return np.array(rows, dtype=np.float32).reshape(-1, cols)


# -- bbox_overlaps ------------------------------------------------------


def test_bbox_overlaps_hand_values():
    a = arr(box(0, 0, 10, 10), cols=4)
    b = arr(box(5, 5, 15, 15), box(20, 20, 30, 30), cols=4)
    iou = bbox_overlaps(a, b)
    assert iou.dtype == np.float32 and iou.shape == (1, 2)
    np.testing.assert_allclose(iou, [[25 / 175, 0]], rtol=1e-6)
    np.testing.assert_allclose(
        bbox_overlaps(a, b, mode='iof'), [[25 / 100, 0]], rtol=1e-6
    )
    # legacy boxes are one pixel wider and taller: 11 x 11, overlap 6 x 6
    legacy = bbox_overlaps(a, b, use_legacy_coordinate=True)
    np.testing.assert_allclose(legacy, [[36 / (242 - 36), 0]], rtol=1e-6)
    legacy_iof = bbox_overlaps(a, b, 'iof', use_legacy_coordinate=True)
    np.testing.assert_allclose(legacy_iof, [[36 / 121, 0]], rtol=1e-6)
    # iof divides by the first argument's area
    np.testing.assert_allclose(
        bbox_overlaps(b[:1], arr(box(0, 0, 10, 20), cols=4), 'iof'),
        [[50 / 100]],
        rtol=1e-6,
    )
    assert bbox_overlaps(np.zeros((0, 4)), b).shape == (0, 2)
    assert bbox_overlaps(a, np.zeros((0, 4))).shape == (1, 0)
    with pytest.raises(ValueError, match='iou'):
        bbox_overlaps(a, b, mode='giou')


def test_bbox_overlaps_matches_torch_version():
    import torch

    from mmdet.core import bbox_overlaps as torch_overlaps

    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 50, (2, 30, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(1, 40, (2, 30, 2))], -1)
    for mode in ('iou', 'iof'):
        expected = torch_overlaps(
            torch.from_numpy(boxes[0]), torch.from_numpy(boxes[1]), mode
        ).numpy()
        np.testing.assert_allclose(
            bbox_overlaps(boxes[0], boxes[1], mode), expected, atol=1e-6
        )


# -- average_precision / eval_map ----------------------------------------


def two_image_case(fp_score):
    """One class. Image 0: gt A, a hit on A (0.9) and a miss (fp_score).
    Image 1: gts B and C, a hit on B (0.8) and a duplicate on B (0.6)."""
    dets = [
        [arr(box(0, 0, 10, 10, 0.9), box(50, 50, 60, 60, fp_score))],
        [arr(box(20, 20, 30, 30, 0.8), box(21, 21, 30, 30, 0.6))],
    ]
    anns = [
        dict(bboxes=arr(box(0, 0, 10, 10), cols=4), labels=np.array([0])),
        dict(
            bboxes=arr(box(20, 20, 30, 30), box(70, 70, 90, 90), cols=4),
            labels=np.array([0, 0]),
        ),
    ]
    return dets, anns


@pytest.mark.parametrize(
    'fp_score, area_ap, points_ap',
    [
        # TP TP FP FP: precision 1 up to recall 2/3
        (0.7, 2 / 3, 7 / 11),
        # TP FP TP FP: precision 1 at recall 1/3, then 2/3 at recall 2/3
        (0.85, 1 / 3 + 1 / 3 * 2 / 3, 6 / 11),
    ],
)
def test_eval_map_known_order(fp_score, area_ap, points_ap):
    dets, anns = two_image_case(fp_score)
    mean_ap, results = eval_map(dets, anns, nproc=1, logger='silent')
    assert mean_ap == pytest.approx(area_ap, abs=1e-6)
    (res,) = results
    assert res['num_gts'] == 3 and res['num_dets'] == 4
    assert res['ap'] == pytest.approx(area_ap, abs=1e-6)
    np.testing.assert_allclose(res['recall'][-1], 2 / 3, rtol=1e-6)
    for mode_args in (dict(eval_mode='11points'), dict(dataset='voc07')):
        mean_ap, _ = eval_map(
            dets, anns, nproc=1, logger='silent', **mode_args
        )
        assert mean_ap == pytest.approx(points_ap, abs=1e-6)
    # the same numbers from the curve itself
    recall, precision = res['recall'], res['precision']
    assert average_precision(recall, precision) == pytest.approx(area_ap)
    two_rows = average_precision(
        np.stack([recall, recall]),
        np.stack([precision, precision]),
        '11points',
    )
    np.testing.assert_allclose(two_rows, [points_ap] * 2, rtol=1e-6)
    with pytest.raises(ValueError, match='11points'):
        average_precision(recall, precision, mode='voc')


def test_eval_map_pool_gives_the_same():
    dets, anns = two_image_case(0.85)
    serial = eval_map(dets, anns, nproc=1, logger='silent')
    pooled = eval_map(dets, anns, nproc=2, logger='silent')
    assert serial[0] == pooled[0]
    np.testing.assert_array_equal(
        serial[1][0]['precision'], pooled[1][0]['precision']
    )


def test_eval_map_ignored_boxes():
    dets = [[arr(box(50, 50, 60, 60, 0.95), box(0, 0, 10, 10, 0.9))]]
    ann = dict(bboxes=arr(box(0, 0, 10, 10), cols=4), labels=np.array([0]))
    # the first detection is a false positive ...
    mean_ap, _ = eval_map(dets, [ann], nproc=1, logger='silent')
    assert mean_ap == pytest.approx(0.5)
    # ... unless it lies on an ignored box of its class
    ann.update(
        bboxes_ignore=arr(box(50, 50, 60, 60), cols=4),
        labels_ignore=np.array([0]),
    )
    mean_ap, (res,) = eval_map(dets, [ann], nproc=1, logger='silent')
    assert mean_ap == pytest.approx(1.0) and res['num_gts'] == 1
    # an ignored box of another class does not help
    ann['labels_ignore'] = np.array([1])
    assert eval_map(dets, [ann], nproc=1, logger='silent')[0] == 0.5


def test_eval_map_scale_ranges():
    # a 10x10 and a 100x100 gt; a false positive of area 16 scored 0.85
    dets = [
        [
            arr(
                box(100, 100, 200, 200, 0.9),
                box(300, 300, 304, 304, 0.85),
                box(0, 0, 10, 10, 0.8),
            )
        ]
    ]
    ann = dict(
        bboxes=arr(box(0, 0, 10, 10), box(100, 100, 200, 200), cols=4),
        labels=np.array([0, 0]),
    )
    mean_ap, (res,) = eval_map(
        dets,
        [ann],
        scale_ranges=[(0, 32), (32, 1e5)],
        nproc=1,
        logger='silent',
    )
    # small range: [ignored, FP, TP] -> AP 0.5; large: [TP, -, ignored]
    np.testing.assert_allclose(mean_ap, [0.5, 1.0], rtol=1e-6)
    np.testing.assert_array_equal(res['num_gts'], [1, 1])
    assert res['recall'].shape == res['precision'].shape == (2, 3)
    np.testing.assert_allclose(res['ap'], [0.5, 1.0], rtol=1e-6)
    tp, fp = tpfp_default(
        dets[0][0], ann['bboxes'], np.zeros((0, 4)), 0.5, [(0, 1024)]
    )
    np.testing.assert_array_equal(tp, [[0, 0, 1]])
    np.testing.assert_array_equal(fp, [[0, 1, 0]])


def test_eval_map_empty_cases(capsys):
    empty = np.zeros((0, 5), dtype=np.float32)
    gt = dict(bboxes=arr(box(0, 0, 10, 10), cols=4), labels=np.array([0]))
    # class 0: a gt and no detection (AP 0, counted); class 1: detections
    # but no gt (left out of the mean)
    dets = [[empty, arr(box(0, 0, 5, 5, 0.5))]]
    mean_ap, results = eval_map(dets, [gt], nproc=1)
    assert mean_ap == 0.0
    assert [r['num_gts'] for r in results] == [1, 0]
    assert [r['num_dets'] for r in results] == [0, 1]
    assert results[0]['recall'].size == 0 and results[0]['ap'] == 0
    assert '| mAP   |     |      |        | 0.000 |' in capsys.readouterr().out
    no_gt = dict(bboxes=np.zeros((0, 4)), labels=np.zeros(0, np.int64))
    assert eval_map([[empty]], [no_gt], nproc=1, logger='silent')[0] == 0.0


def test_eval_map_unsupported_options():
    dets, anns = two_image_case(0.7)
    with pytest.raises(NotImplementedError, match='tpfp_imagenet'):
        eval_map(dets, anns, nproc=1, dataset='det')
    with pytest.raises(ValueError, match='tpfp_fn'):
        eval_map(dets, anns, nproc=1, tpfp_fn='default')
    with pytest.raises(AssertionError):
        eval_map(dets, anns[:1])


def test_print_map_summary_layout(capsys):
    dets, anns = two_image_case(0.7)
    mean_ap, results = eval_map(dets, anns, nproc=1, logger='silent')
    print_map_summary(mean_ap, results, dataset=['car'])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines == [
        '+-------+-----+------+--------+-------+',
        '| class | gts | dets | recall | ap    |',
        '+-------+-----+------+--------+-------+',
        '| car   | 3   | 4    | 0.667  | 0.667 |',
        '+-------+-----+------+--------+-------+',
        '| mAP   |     |      |        | 0.667 |',
        '+-------+-----+------+--------+-------+',
    ]


# -- eval_recalls / average_recall ---------------------------------------


GTS = [arr(box(0, 0, 10, 10), box(20, 20, 30, 30), cols=4)]
# scores rank p1 (IoU 2/3 with gt 1), a miss, then p0 (IoU 1 with gt 0)
PROPOSALS = [
    arr(
        box(0, 0, 10, 10, 0.2),
        box(20, 20, 30, 35, 0.9),
        box(100, 100, 110, 110, 0.5),
    )
]


def test_eval_recalls_hand_values(capsys):
    recalls = eval_recalls(GTS, PROPOSALS, [1, 2, 3], [0.5, 0.7])
    assert recalls.shape == (3, 2)
    np.testing.assert_allclose(recalls, [[0.5, 0], [0.5, 0], [1, 0.5]])
    assert '| 3 | 1.000 | 0.500 |' in capsys.readouterr().out
    # without scores the given order counts: p0 comes first
    recalls = eval_recalls(GTS, [PROPOSALS[0][:, :4]], 1, 0.7, 'silent')
    np.testing.assert_allclose(recalls, [[0.5]])
    # int and float arguments; None: all proposals
    assert eval_recalls(GTS, PROPOSALS, logger='silent').tolist() == [[1.0]]


def test_eval_recalls_greedy_one_to_one():
    # one proposal overlapping both gts goes to the better one
    gts = [arr(box(0, 0, 10, 10), box(0, 0, 10, 12), cols=4)]
    props = [arr(box(0, 0, 10, 11), cols=4)]
    recalls = eval_recalls(gts, props, [1], [0.5], logger='silent')
    np.testing.assert_allclose(recalls, [[0.5]])
    # images without gts or proposals
    gts = [np.zeros((0, 4)), gts[0], None]
    props = [props[0], np.zeros((0, 5)), props[0]]
    assert eval_recalls(gts, props, [1], 0.5, 'silent').tolist() == [[0.0]]


def test_print_recall_summary_subset(capsys):
    recalls = np.array([[0.1, 0.2], [0.3, 0.4]])
    print_recall_summary(
        recalls, [10, 20], [0.5, 0.7], row_idxs=[1], col_idxs=[0]
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[1] == '|    | 0.5   |' and lines[3] == '| 20 | 0.300 |'


def test_recall_plots():
    fig = plot_num_recall(np.array([0.2, 0.5]), np.array([10, 100]))
    assert fig.axes[0].get_xlabel() == 'Proposal num'
    fig = plot_iou_recall(np.array([0.9, 0.4]), np.array([0.5, 0.75]))
    assert fig.axes[0].get_xlim() == (0.5, 1.0)


def random_recall_case(seed):
    """Random gt boxes and scored proposals (jittered gts and misses)."""
    rng = np.random.default_rng(seed)
    gts, props = [], []
    for _ in range(int(rng.integers(1, 5))):
        num_gts, num_props = int(rng.integers(0, 8)), int(rng.integers(0, 40))
        xy = rng.uniform(0, 80, (num_gts, 2))
        gt = np.hstack([xy, xy + rng.uniform(4, 40, (num_gts, 2))])
        gt = gt.astype(np.float32)
        if num_gts:
            base = gt[rng.integers(0, num_gts, num_props)]
        else:
            base = np.zeros((num_props, 4), np.float32) + 10
        prop = base + rng.normal(0, 6, (num_props, 4))
        prop[:, 2:] = np.maximum(prop[:, 2:], prop[:, :2] + 1)
        score = rng.uniform(0, 1, (num_props, 1))
        gts.append(gt)
        props.append(np.hstack([prop, score]).astype(np.float32))
    return gts, props


# average_recall's outputs before it was built on eval_recalls:
# seed -> (proposal_nums (1, 5, 20, 100) at 0.50:0.05:0.95, at (0.3, 0.5))
AVERAGE_RECALL_BEFORE = {
    0: (
        [
            0.023076923076923075,
            0.04615384615384615,
            0.15384615384615385,
            0.15384615384615385,
        ],
        [
            0.19230769230769232,
            0.34615384615384615,
            0.6538461538461539,
            0.6538461538461539,
        ],
    ),
    1: ([0.0, 0.175, 0.25, 0.3], [0.0, 0.5625, 0.6875, 0.6875]),
    2: ([0.0, 0.02, 0.15, 0.16], [0.15, 0.4, 0.75, 0.8]),
    3: (
        [0.08333333333333333, 0.15, 0.35000000000000003, 0.35000000000000003],
        [0.3333333333333333, 0.75, 0.75, 0.75],
    ),
    4: (
        [
            0.007692307692307693,
            0.06153846153846154,
            0.1846153846153846,
            0.29230769230769227,
        ],
        [
            0.07692307692307693,
            0.38461538461538464,
            0.7692307692307693,
            0.9615384615384616,
        ],
    ),
    5: (
        [0.0, 0.05833333333333333, 0.10833333333333334, 0.10833333333333334],
        [0.0, 0.16666666666666666, 0.25, 0.25],
    ),
    6: ([0.0, 0.12, 0.13999999999999999, 0.16], [0.05, 0.3, 0.55, 0.65]),
    7: (
        [
            0.02857142857142857,
            0.08571428571428572,
            0.21904761904761902,
            0.22857142857142856,
        ],
        [
            0.11904761904761904,
            0.30952380952380953,
            0.5952380952380952,
            0.6190476190476191,
        ],
    ),
}


@pytest.mark.parametrize('seed', sorted(AVERAGE_RECALL_BEFORE))
def test_average_recall_unchanged(seed):
    gts, props = random_recall_case(seed)
    nums, coco_thrs = (1, 5, 20, 100), np.linspace(0.5, 0.95, 10)
    for thrs, expected in zip(
        (coco_thrs, [0.3, 0.5]), AVERAGE_RECALL_BEFORE[seed]
    ):
        assert average_recall(gts, props, nums, thrs).tolist() == expected
        # the row mean of eval_recalls (when no IoU equals a threshold);
        # average_recall keeps the given order, so rank the proposals
        ranked = [p[np.argsort(p[:, 4])[::-1]] for p in props]
        np.testing.assert_allclose(
            eval_recalls(gts, props, nums, thrs, 'silent').mean(1),
            average_recall(gts, ranked, nums, thrs),
            rtol=1e-12,
        )


def test_average_recall_iou_at_threshold():
    # IoU 70 / 100 is 0.7 in float64 (average_recall's IoUs) but just
    # under it in float32 (eval_recalls, as MMDetection 2.x)
    gts = [arr(box(0, 0, 10, 10), cols=4)]
    props = [arr(box(0, 0, 10, 7), cols=4)]
    assert average_recall(gts, props, [1], [0.7]).tolist() == [1.0]
    assert eval_recalls(gts, props, [1], [0.7], 'silent').tolist() == [[0]]
    assert average_recall([np.zeros((0, 4))], props, [1], [0.5]) == 0


# -- class names ---------------------------------------------------------


def test_get_classes():
    assert len(get_classes('coco')) == 80
    assert get_classes('ms_coco') == coco_classes()
    assert coco_classes()[9] == 'traffic_light'
    assert [n.replace('_', ' ') for n in coco_classes()] == list(
        CocoDataset.CLASSES
    )
    assert get_classes('voc07') == get_classes('pascal_voc') == voc_classes()
    assert len(voc_classes()) == 20 and voc_classes()[-1] == 'tvmonitor'
    assert get_classes('WIDERFace') == ['face']
    assert len(get_classes('cityscapes')) == 8
    with pytest.raises(ValueError, match='Unrecognized'):
        get_classes('kitti')
    with pytest.raises(TypeError):
        get_classes(['coco'])
    with pytest.raises(NotImplementedError, match='imagenet_det'):
        get_classes('det')


# -- CustomDataset.evaluate ----------------------------------------------

CLASSES = ('car', 'person')
BOXES = [
    (arr(box(10, 10, 50, 60), box(70, 20, 90, 90), cols=4), [0, 1]),
    (arr(box(5, 5, 40, 40), cols=4), [1]),
]


@pytest.fixture
def custom_set(tmp_path):
    import mmcv

    infos = [
        dict(
            filename=f'{i}.jpg',
            width=100,
            height=100,
            ann=dict(bboxes=b, labels=np.array(labels, dtype=np.int64)),
        )
        for i, (b, labels) in enumerate(BOXES)
    ]
    path = str(tmp_path / 'ann.pkl')
    mmcv.dump(infos, path)
    return CustomDataset(path, pipeline=[], classes=CLASSES, test_mode=True)


def perfect_results():
    """Per image, per class: the gt boxes with score 1."""
    results = []
    for boxes, labels in BOXES:
        labels = np.array(labels)
        results.append(
            [
                np.hstack([boxes[labels == c], np.ones((sum(labels == c), 1))])
                for c in range(len(CLASSES))
            ]
        )
    return results


def test_custom_dataset_map(custom_set, capsys):
    metrics = custom_set.evaluate(perfect_results())
    assert list(metrics) == ['AP50', 'mAP'] and metrics['mAP'] == 1.0
    out = capsys.readouterr().out
    assert '---------------iou_thr: 0.5---------------' in out
    assert '| person | 2   | 2    | 1.000  | 1.000 |' in out
    results = perfect_results()
    results[1][1] = results[1][1] + [20, 20, 20, 20, 0]  # IoU 0.15
    metrics = custom_set.evaluate(
        results, iou_thr=[0.5, 0.75], logger='silent'
    )
    # car: AP 1; person: precision 1 at recall 1/2 -> AP 0.5
    assert metrics == {'AP50': 0.75, 'AP75': 0.75, 'mAP': 0.75}
    metrics = custom_set.evaluate(
        results,
        metric=['mAP'],
        scale_ranges=[(0, 40), (40, 1e3)],
        logger='silent',
    )
    assert metrics == {'AP50': [0.5, 1.0], 'mAP': [0.5, 1.0]}


def test_custom_dataset_recall_and_errors(custom_set):
    proposals = [np.vstack(r) for r in perfect_results()]
    metrics = custom_set.evaluate(
        proposals, metric='recall', proposal_nums=(1, 10), logger='silent'
    )
    assert list(metrics) == ['recall@1@0.5', 'recall@10@0.5']
    assert metrics['recall@1@0.5'] == pytest.approx(2 / 3)
    assert metrics['recall@10@0.5'] == 1.0
    metrics = custom_set.evaluate(
        proposals, 'recall', 'silent', (10,), iou_thr=[0.5, 0.9]
    )
    assert metrics['AR@10'] == 1.0 and len(metrics) == 3
    with pytest.raises(KeyError, match='bbox'):
        custom_set.evaluate(proposals, metric='bbox')
    with pytest.raises(ValueError, match='results'):
        custom_set.evaluate(perfect_results()[:1])
    assert CocoDataset.evaluate is not CustomDataset.evaluate


def test_concat_dataset_evaluate(custom_set):
    concat = ConcatDataset([custom_set, custom_set])
    metrics = concat.evaluate(perfect_results() * 2, logger='silent')
    assert metrics == {
        '0_AP50': 1.0,
        '0_mAP': 1.0,
        '1_AP50': 1.0,
        '1_mAP': 1.0,
    }


def test_concat_dataset_evaluate_together(custom_set):
    concat = ConcatDataset([custom_set, custom_set], separate_eval=False)
    metrics = concat.evaluate(perfect_results() * 2, logger='silent')
    assert metrics['mAP'] == 1.0
    assert len(custom_set.data_infos) == len(BOXES)
