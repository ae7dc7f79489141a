"""tools/analysis_tools/confusion_matrix.py and analyze_results.py on
results made by hand from the ground truth of a tiny generated data set:
as functions, and once each through the command line."""

import os
import os.path as osp
import pickle
import subprocess
import sys

import matplotlib.image as mpimg
import numpy as np
import pytest

from mmdet.analysis.analyze_results import (
    analyze_results,
    bbox_map_eval,
    split_topk,
)
from mmdet.analysis.confusion_matrix import (
    calculate_confusion_matrix,
    confusion_matrix,
    count_image,
)
from mmdet.apis.builders import build_test_dataset, load_config
from mmdet.core.evaluation import bbox_overlaps
from mmdet.testing import make_tiny_coco
from mmdet.utils import compat_cfg

ROOT = osp.dirname(osp.dirname(osp.dirname(__file__)))
MICRO = osp.join(
    ROOT, 'tests', 'data', 'configs', 'micro_mask_rcnn_tiny_coco.py'
)
NUM_CLASSES = 4
BG = NUM_CLASSES  # index of the background row / column


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    """(cfg_options as a dict, the same as key=value strings, dataset)."""
    root = tmp_path_factory.mktemp('tiny')
    make_tiny_coco(str(root), seed=0, num_train=1, num_val=4, size=64)
    options = {
        'data.test.ann_file': f'{root}/annotations/instances_val.json',
        'data.test.img_prefix': f'{root}/val/',
    }
    cfg = compat_cfg(load_config(MICRO, options))
    dataset = build_test_dataset(cfg)
    strings = [f'{key}={value}' for key, value in options.items()]
    return options, strings, dataset


def gts(dataset):
    """Per image (boxes (G, 4), labels (G,))."""
    return [
        (ann['bboxes'], ann['labels'])
        for ann in map(dataset.get_ann_info, range(len(dataset)))
    ]


def as_result(boxes, labels, score=1.0):
    """Per-class (n, 5) arrays of ``boxes`` with ``score``."""
    return [
        np.hstack(
            [boxes[labels == c], np.full((np.sum(labels == c), 1), score)]
        ).astype(np.float32)
        for c in range(NUM_CLASSES)
    ]


def perfect(dataset, score=1.0):
    return [as_result(b, lab, score) for b, lab in gts(dataset)]


def dump(path, results):
    with open(path, 'wb') as f:
        pickle.dump(results, f)
    return str(path)


def run_cli(script, *args):
    proc = subprocess.run(
        [
            sys.executable,
            osp.join(ROOT, 'tools', 'analysis_tools', script),
            *map(str, args),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, MPLBACKEND='Agg'),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


# ---------------------------------------------------------- confusion
def test_count_image_cells():
    gt_boxes = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], np.float32)
    gt_labels = np.array([0, 1])
    dets = [
        np.array(
            [
                [0, 0, 10, 10, 0.9],  # right class on gt 0
                [20, 20, 30, 30, 0.8],  # class 0 on the class-1 gt
                [0, 0, 10, 9, 0.1],  # below score_thr: ignored
            ],
            np.float32,
        ),
        np.array([[40, 40, 50, 50, 0.7]], np.float32),  # on nothing
    ]
    matrix = count_image(np.zeros((3, 3)), gt_boxes, gt_labels, dets, 0.3)
    expected = np.zeros((3, 3))
    expected[0, 0] = 1  # true positive
    expected[1, 0] = 1  # class 1 predicted as class 0
    expected[1, 2] = 1  # so class 1 is missed as well
    expected[2, 1] = 1  # a class-1 detection on background
    np.testing.assert_array_equal(matrix, expected)


def test_count_image_nms_and_empty():
    gt_boxes = np.array([[0, 0, 10, 10]], np.float32)
    dup = [
        np.array([[0, 0, 10, 10, 0.9], [0, 0, 10, 9.5, 0.8]], np.float32),
        np.zeros((0, 5), np.float32),
    ]
    plain = count_image(np.zeros((3, 3)), gt_boxes, [0], dup)
    assert plain[0, 0] == 2 and plain.sum() == 2
    again = count_image(np.zeros((3, 3)), gt_boxes, [0], dup, nms_iou_thr=0.5)
    assert again[0, 0] == 1 and again.sum() == 1
    # no ground truth: every detection is background
    bg = count_image(np.zeros((3, 3)), np.zeros((0, 4)), [], dup)
    assert bg[2, 0] == 2 and bg.sum() == 2
    # no detections: the gt is missed
    missed = count_image(np.zeros((3, 3)), gt_boxes, [0], [np.zeros((0, 5))])
    assert missed[0, 2] == 1 and missed.sum() == 1


def test_confusion_matrix_of_hand_made_results(tiny):
    _, _, dataset = tiny
    truth = gts(dataset)
    # no two gt boxes overlap enough to match the same detection
    for boxes, _ in truth:
        ious = bbox_overlaps(boxes, boxes)
        assert (ious[~np.eye(len(boxes), dtype=bool)] < 0.5).all()
    counts = np.bincount(
        np.concatenate([lab for _, lab in truth]), minlength=NUM_CLASSES
    )
    assert counts.sum() > 3

    diagonal = np.zeros((NUM_CLASSES + 1, NUM_CLASSES + 1))
    diagonal[range(NUM_CLASSES), range(NUM_CLASSES)] = counts
    results = perfect(dataset)
    np.testing.assert_array_equal(
        calculate_confusion_matrix(dataset, results), diagonal
    )

    # image 0's first gt predicted as another class, its second gt missed
    (boxes, labels) = truth[0]
    wrong = (labels[0] + 1) % NUM_CLASSES
    new_labels = labels.copy()
    new_labels[0] = wrong
    keep = np.arange(len(labels)) != 1
    results[0] = as_result(boxes[keep], new_labels[keep])
    expected = diagonal.copy()
    expected[labels[0], labels[0]] -= 1
    expected[labels[0], wrong] += 1
    expected[labels[0], BG] += 1
    expected[labels[1], labels[1]] -= 1
    expected[labels[1], BG] += 1
    np.testing.assert_array_equal(
        calculate_confusion_matrix(dataset, results), expected
    )


def test_confusion_matrix_tool(tiny, tmp_path):
    options, strings, dataset = tiny
    # (bbox, segm) tuples: the masks are ignored
    pkl = dump(
        tmp_path / 'res.pkl',
        [(r, [[] for _ in r]) for r in perfect(dataset, score=0.2)],
    )
    # all detections under the default score threshold of 0.3: every gt
    # lands in the background column
    matrix, out_file = confusion_matrix(
        MICRO, pkl, str(tmp_path / 'plots'), cfg_options=options
    )
    assert out_file == str(tmp_path / 'plots' / 'confusion_matrix.png')
    assert matrix[:, :BG].sum() == 0
    assert matrix[:BG, BG].sum() == len(
        np.concatenate([lab for _, lab in gts(dataset)])
    )
    matrix, _ = confusion_matrix(
        MICRO, pkl, str(tmp_path), score_thr=0.1, cfg_options=options
    )
    assert np.trace(matrix) == matrix.sum()

    proc = run_cli(
        'confusion_matrix.py',
        MICRO,
        pkl,
        tmp_path / 'cli',
        '--score-thr',
        '0.1',
        '--color-theme',
        'viridis',
        '--cfg-options',
        *strings,
    )
    image = mpimg.imread(tmp_path / 'cli' / 'confusion_matrix.png')
    # 5 labels, drawn at the smallest size: 8 x 6.4 inch at 180 dpi
    assert image.shape[:2] == (1152, 1440)
    assert 'Traceback' not in proc.stderr


def test_confusion_matrix_errors(tiny, tmp_path):
    options, _, dataset = tiny
    missing = str(tmp_path / 'nope.pkl')
    with pytest.raises(FileNotFoundError, match='nope.pkl'):
        confusion_matrix(MICRO, missing, str(tmp_path), cfg_options=options)
    with pytest.raises(FileNotFoundError, match='no_config.py'):
        confusion_matrix(
            str(tmp_path / 'no_config.py'), missing, str(tmp_path)
        )
    short = dump(tmp_path / 'short.pkl', perfect(dataset)[:3])
    with pytest.raises(ValueError, match=r'3 results .* 4 images'):
        confusion_matrix(MICRO, short, str(tmp_path), cfg_options=options)
    panoptic = dump(tmp_path / 'pan.pkl', [dict(pan_results=1)] * 4)
    with pytest.raises(TypeError, match='panoptic'):
        confusion_matrix(MICRO, panoptic, str(tmp_path), cfg_options=options)


# ---------------------------------------------------------- analyze
def test_bbox_map_eval():
    ann = dict(
        bboxes=np.array([[0, 0, 10, 10]], np.float32),
        labels=np.array([1]),
    )
    empty = np.zeros((0, 5), np.float32)
    exact = [empty, np.array([[0, 0, 10, 10, 0.9]], np.float32)]
    assert bbox_map_eval(exact, ann) == pytest.approx(1.0)
    # IoU 0.72: a match at the thresholds 0.5 ... 0.7, 5 of 10
    loose = [empty, np.array([[0, 0, 10, 7.2, 0.9]], np.float32)]
    assert bbox_map_eval((loose, None), ann) == pytest.approx(0.5)
    assert bbox_map_eval([empty, empty], ann) == 0.0


def test_split_topk():
    ranked = [(3, 0.0), (0, 0.2), (1, 0.5), (2, 1.0), (4, 1.0)]
    assert split_topk(ranked, 1) == ([(4, 1.0)], [(3, 0.0)])
    # cut to half of the images
    assert split_topk(ranked, 20) == (ranked[3:], ranked[:2])
    with pytest.raises(ValueError, match='topk'):
        split_topk(ranked, 0)


def test_analyze_results_ranks_and_draws(tiny, tmp_path):
    options, _, dataset = tiny
    results = perfect(dataset)
    results[1] = [np.zeros((0, 5), np.float32)] * NUM_CLASSES  # all missed
    pkl = dump(tmp_path / 'res.pkl', results)
    ranked = analyze_results(
        MICRO, pkl, str(tmp_path / 'show'), topk=1, cfg_options=options
    )
    assert ranked == dict(good=[(3, 1.0)], bad=[(1, 0.0)])
    assert os.listdir(tmp_path / 'show' / 'good') == ['000004_1.0.jpg']
    assert os.listdir(tmp_path / 'show' / 'bad') == ['000002_0.0.jpg']
    # ground truth stacked above the detections
    drawn = mpimg.imread(tmp_path / 'show' / 'good' / '000004_1.0.jpg')
    info = dataset.data_infos[3]
    assert drawn.shape[:2] == (2 * info['height'], info['width'])

    # topk beyond half of the 4 images: 2 each
    ranked = analyze_results(
        MICRO,
        pkl,
        str(tmp_path / 'all'),
        topk=20,
        overlay_gt_pred=True,
        cfg_options=options,
    )
    assert [i for i, _ in ranked['good']] == [2, 3]
    assert [i for i, _ in ranked['bad']] == [1, 0]
    assert ranked['bad'][1][1] == 1.0
    assert len(os.listdir(tmp_path / 'all' / 'good')) == 2


def test_analyze_results_errors(tiny, tmp_path):
    options, _, dataset = tiny
    with pytest.raises(FileNotFoundError, match='nope.pkl'):
        analyze_results(
            MICRO,
            str(tmp_path / 'nope.pkl'),
            str(tmp_path),
            cfg_options=options,
        )
    long = dump(tmp_path / 'long.pkl', perfect(dataset) * 2)
    with pytest.raises(ValueError, match=r'8 results .* 4 images'):
        analyze_results(MICRO, long, str(tmp_path), cfg_options=options)
    panoptic = dump(tmp_path / 'pan.pkl', [dict(pan_results=1)] * 4)
    with pytest.raises(TypeError, match='panoptic'):
        analyze_results(MICRO, panoptic, str(tmp_path), cfg_options=options)


def test_analyze_results_cli(tiny, tmp_path):
    _, strings, dataset = tiny
    results = []
    for (boxes, labels), info in zip(gts(dataset), dataset.data_infos):
        bbox = as_result(boxes, labels)
        segm = []
        for c in range(NUM_CLASSES):
            masks = []
            for x1, y1, x2, y2 in boxes[labels == c].astype(int):
                mask = np.zeros((info['height'], info['width']), bool)
                mask[y1:y2, x1:x2] = True
                masks.append(mask)
            segm.append(masks)
        results.append((bbox, segm))
    pkl = dump(tmp_path / 'res.pkl', results)
    run_cli(
        'analyze_results.py',
        MICRO,
        pkl,
        tmp_path / 'show',
        '--topk',
        '1',
        '--overlay-gt-pred',
        '--show-score-thr',
        '0.3',
        '--cfg-options',
        *strings,
    )
    # all four perfect: the last in index order is best, the first worst
    assert os.listdir(tmp_path / 'show' / 'good') == ['000004_1.0.jpg']
    assert os.listdir(tmp_path / 'show' / 'bad') == ['000001_1.0.jpg']
