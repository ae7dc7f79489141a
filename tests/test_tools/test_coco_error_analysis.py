"""tools/analysis_tools/coco_error_analysis.py on a hand-written COCO set:
2 images, 3 categories (cat, dog: animal; car: vehicle), one 40x40 box of
each category per image. AP values are derived by hand with COCO's 101
recall thresholds; every category has 2 boxes, so recall 0.5 covers the
51 thresholds 0, 0.01, ..., 0.5."""

import json
import os
import os.path as osp
import runpy
import subprocess
import sys

import numpy as np
import pytest

from mmdet.analysis.coco_error_analysis import (
    AREA_NAMES,
    ERROR_TYPES,
    analyze_results,
    error_precisions,
    load_coco,
)

ROOT = osp.dirname(osp.dirname(osp.dirname(__file__)))
TOOL = osp.join(ROOT, 'tools', 'analysis_tools', 'coco_error_analysis.py')
CAT, DOG, CAR = 1, 2, 3
# (image id, category id, box [x, y, w, h])
GT_BOXES = [
    (1, CAT, [10, 10, 40, 40]),
    (1, DOG, [100, 10, 40, 40]),
    (1, CAR, [10, 100, 40, 40]),
    (2, CAT, [10, 10, 40, 40]),
    (2, DOG, [100, 10, 40, 40]),
    (2, CAR, [100, 100, 40, 40]),
]
HALF = 51 / 101  # precision 1 up to recall 0.5, then 0
# (image, category, box, score): each category meets its own errors
ERRORS = [
    # cat: one exact box, one shifted by 10 px (IoU 30/50 = 0.6)
    (1, CAT, [10, 10, 40, 40], 0.9),
    (2, CAT, [20, 10, 40, 40], 0.8),
    # dog: one exact box; the image-2 dog is missed (FN); a dog on the
    # cat (Sim) ranked first and a dog on the car (Oth) ranked last
    (2, DOG, [10, 10, 40, 40], 0.95),
    (1, DOG, [100, 10, 40, 40], 0.9),
    (2, DOG, [100, 100, 40, 40], 0.85),
    # car: both exact, a box on empty background ranked between them
    (1, CAR, [10, 100, 40, 40], 0.9),
    (1, CAR, [150, 150, 40, 40], 0.8),
    (2, CAR, [100, 100, 40, 40], 0.7),
]
# AP on 'allarea' per category and type, C75 ... FN
EXPECTED = {
    # C75 misses the shifted box: TP then FP
    'cat': [HALF, 1, 1, 1, 1, 1, 1],
    # FP, TP, FP up to Loc (precision 0.5 at recall 0.5); Sim forgives
    # the first FP, Oth the last; recall never passes 0.5
    'dog': [HALF / 2, HALF / 2, HALF / 2, HALF, HALF, HALF, 1],
    # TP, FP, TP: precision 1 up to recall 0.5, then 2/3; BG forgives
    'car': [(51 + 50 * 2 / 3) / 101] * 5 + [1, 1],
}


def rect(box):
    """The polygon of an ``[x, y, w, h]`` box."""
    x, y, w, h = box
    return [[x, y, x + w, y, x + w, y + h, x, y + h]]


def write_annotations(path):
    images = [
        dict(id=i, file_name=f'{i}.jpg', width=200, height=200) for i in (1, 2)
    ]
    categories = [
        dict(id=CAT, name='cat', supercategory='animal'),
        dict(id=DOG, name='dog', supercategory='animal'),
        dict(id=CAR, name='car', supercategory='vehicle'),
    ]
    annotations = [
        dict(
            id=n,
            image_id=img,
            category_id=cat,
            bbox=box,
            area=box[2] * box[3],
            segmentation=rect(box),
            iscrowd=0,
        )
        for n, (img, cat, box) in enumerate(GT_BOXES, 1)
    ]
    with open(path, 'w') as f:
        json.dump(
            dict(
                images=images, categories=categories, annotations=annotations
            ),
            f,
        )
    return str(path)


def write_results(path, dets):
    results = [
        dict(image_id=img, category_id=cat, bbox=box, score=score)
        for img, cat, box, score in dets
    ]
    with open(path, 'w') as f:
        json.dump(results, f)
    return str(path)


@pytest.fixture
def ann_file(tmp_path):
    return write_annotations(tmp_path / 'ann.json')


def breakdown(ann_file, result_file, iou_type='bbox', **kwargs):
    coco_gt, coco_dt = load_coco(ann_file, result_file)
    return error_precisions(coco_gt, coco_dt, iou_type, **kwargs)


def ap(ps, k=None, area=0):
    """AP per type ``[7]`` of category index ``k`` (all when None)."""
    ps = ps if k is None else ps[:, :, k : k + 1]
    return ps[:, :, :, area].mean(axis=(1, 2))


def test_perfect_detections_give_precision_one(ann_file, tmp_path):
    dets = [(img, cat, box, 0.9) for img, cat, box in GT_BOXES]
    result = write_results(tmp_path / 'perfect.json', dets)
    ps, rec_thrs, _ = breakdown(ann_file, result)
    assert ps.shape == (7, 101, 3, 4)
    assert len(rec_thrs) == 101
    # all boxes are medium (40 * 40 = 1600 px^2)
    for area in ('allarea', 'medium'):
        assert (ps[:, :, :, AREA_NAMES.index(area)] == 1).all()
    # no ground truth small or large: nothing but FN
    for area in ('small', 'large'):
        a = AREA_NAMES.index(area)
        np.testing.assert_array_equal(ap(ps, area=a), [0] * 6 + [1])


@pytest.mark.parametrize('iou_type', ['bbox', 'segm'])
def test_error_types_by_hand(ann_file, tmp_path, iou_type):
    result = write_results(tmp_path / 'errors.json', ERRORS)
    ps, _, coco_eval = breakdown(ann_file, result, iou_type)
    assert coco_eval.params.catIds == [CAT, DOG, CAR]
    for k, name in enumerate(('cat', 'dog', 'car')):
        np.testing.assert_allclose(ap(ps, k), EXPECTED[name], err_msg=name)
        np.testing.assert_allclose(
            ap(ps, k, AREA_NAMES.index('medium')), EXPECTED[name]
        )
    overall = np.mean([EXPECTED[n] for n in ('cat', 'dog', 'car')], axis=0)
    np.testing.assert_allclose(ap(ps), overall)
    # the curves stack: each type's precision at least the previous one's
    assert (np.diff(ps, axis=0) >= 0).all()


def test_areas_move_boxes_to_small(ann_file, tmp_path):
    result = write_results(tmp_path / 'errors.json', ERRORS)
    ps, _, _ = breakdown(ann_file, result, areas=(2000, 9216, 1e10))
    small = AREA_NAMES.index('small')
    np.testing.assert_allclose(ap(ps, area=small), ap(ps))
    np.testing.assert_array_equal(ap(ps, area=2), [0] * 6 + [1])


def test_analyze_results_summary_and_files(ann_file, tmp_path):
    result = write_results(tmp_path / 'errors.json', ERRORS)
    out = tmp_path / 'out'
    summary = analyze_results(result, ann_file, str(out), types=['segm'])
    assert set(summary['segm']) == {'cat', 'dog', 'car', 'allclass'}
    for name, expected in EXPECTED.items():
        got = [summary['segm'][name][t]['allarea'] for t in ERROR_TYPES]
        np.testing.assert_allclose(got, expected)
    assert sorted(os.listdir(out)) == ['segm']
    # without --extraplots: only the PR plots
    assert sorted(os.listdir(out / 'segm')) == sorted(
        f'segm-{name}-{area}.png'
        for name in ('cat', 'dog', 'car', 'allclass')
        for area in AREA_NAMES
    )


def test_command_line_writes_the_2_28_layout(ann_file, tmp_path):
    result = write_results(tmp_path / 'errors.json', ERRORS)
    out = tmp_path / 'out'
    cmd = [sys.executable, TOOL, result, str(out), '--ann', ann_file]
    cmd += ['--extraplots']
    proc = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert 'allarea' in proc.stdout
    assert sorted(os.listdir(out)) == ['bbox']
    names = ('cat', 'dog', 'car', 'allclass')
    expected = {f'bbox-{n}-{area}.png' for n in names for area in AREA_NAMES}
    expected |= {f'bbox-{n}-ap bar plot.png' for n in names}
    expected |= {
        'number of annotations per area group.png',
        'gt annotation areas histogram plot.png',
    }
    assert set(os.listdir(out / 'bbox')) == expected
    for name in expected:
        with open(out / 'bbox' / name, 'rb') as f:
            assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_clear_errors(ann_file, tmp_path, capsys):
    result = write_results(tmp_path / 'errors.json', ERRORS)
    missing = str(tmp_path / 'nope.json')
    with pytest.raises(FileNotFoundError, match='nope.json'):
        analyze_results(missing, ann_file, str(tmp_path / 'out'))
    with pytest.raises(FileNotFoundError, match='nope.json'):
        analyze_results(result, missing, str(tmp_path / 'out'))
    with pytest.raises(ValueError, match='bbox, segm'):
        analyze_results(result, ann_file, str(tmp_path), types=['keypoints'])
    with pytest.raises(ValueError, match='3 numbers'):
        analyze_results(result, ann_file, str(tmp_path), areas=[1, 2])
    empty = write_results(tmp_path / 'empty.json', [])
    with pytest.raises(ValueError, match='no detections'):
        analyze_results(empty, ann_file, str(tmp_path))
    tool = runpy.run_path(TOOL)
    with pytest.raises(SystemExit):
        tool['parse_args']([result, 'out', '--types', 'keypoints'])
    err = capsys.readouterr().err
    assert 'keypoints' in err and 'bbox' in err and 'segm' in err
