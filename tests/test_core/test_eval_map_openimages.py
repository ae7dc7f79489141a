"""Open Images' group-of matching (tpfp_openimages) and eval_map with
use_group_of / 'oid_v6', against cases worked out by hand."""

import numpy as np
import pytest

from mmdet.core.evaluation import eval_map
from mmdet.core.evaluation.mean_ap import tpfp_openimages

PLAIN = [0, 0, 10, 10]
GROUP = [20, 20, 60, 60]
GROUP2 = [100, 0, 120, 20]


def dets(*rows):
    return np.array(rows, dtype=np.float32).reshape(-1, 5)


D1 = [0, 0, 10, 10, 0.9]  # on the plain box
D2 = [25, 25, 35, 35, 0.8]  # inside the group-of box (IoA 1)
D3 = [40, 40, 50, 50, 0.7]  # inside it too
D4 = [80, 80, 90, 90, 0.6]  # on nothing
D5 = [50, 50, 70, 70, 0.65]  # IoA 100 / 400 with the group-of box


def test_tpfp_openimages_merges_into_group_of_boxes():
    gts = np.array([PLAIN, GROUP], np.float32)
    tp, fp, out = tpfp_openimages(
        dets(D1, D2, D3, D4, D5),
        gts,
        gt_bboxes_group_of=np.array([False, True]),
        ioa_thr=0.5,
    )
    # D1 matches the plain box; D2 and D3 merge into the group-of box,
    # which keeps D2 (the higher score); D4 and D5 are false positives
    np.testing.assert_array_equal(out, dets(D1, D4, D5, D2))
    np.testing.assert_array_equal(tp, [[1, 0, 0, 1]])
    np.testing.assert_array_equal(fp, [[0, 1, 1, 0]])
    # without group-of boxes it is tpfp_default's matching
    tp, fp, out = tpfp_openimages(
        dets(D1, D2, D3, D4), gts, gt_bboxes_group_of=None
    )
    np.testing.assert_array_equal(tp, [[1, 0, 0, 0]])
    np.testing.assert_array_equal(fp, [[0, 1, 1, 1]])
    assert len(out) == 4


def test_unmatched_group_of_box_is_a_zero_score_false_positive():
    gts = np.array([GROUP, GROUP2], np.float32)
    tp, fp, out = tpfp_openimages(
        dets(D2), gts, gt_bboxes_group_of=np.array([True, True])
    )
    np.testing.assert_array_equal(tp, [[1, 0]])
    np.testing.assert_array_equal(fp, [[0, 1]])
    assert out[1].tolist() == [0, 0, 0, 0, 0]


def ann(boxes, group_of):
    return dict(
        bboxes=np.array(boxes, np.float32),
        labels=np.zeros(len(boxes), np.int64),
        gt_is_group_ofs=np.array(group_of, bool),
    )


@pytest.mark.parametrize('nproc', [1, 2])
def test_eval_map_group_of_by_hand(nproc):
    det_results = [[dets(D1, D2, D3, D4)], [dets()]]
    annotations = [
        ann([PLAIN, GROUP], [False, True]),
        ann([GROUP2], [True]),
    ]
    # ranked: D1 TP (0.9), group box TP (0.8), D4 FP (0.6), the unmatched
    # second group box FP (0); 3 gt boxes: recall 1/3, 2/3 at precision 1
    mean_ap, results = eval_map(
        det_results,
        annotations,
        use_group_of=True,
        ioa_thr=0.5,
        nproc=nproc,
        logger='silent',
    )
    assert mean_ap == pytest.approx(2 / 3, abs=1e-6)
    assert results[0]['num_gts'] == 3 and results[0]['num_dets'] == 4
    # plain IoU matching (also 'oid_v6' without use_group_of, as in
    # MMDetection): only D1 is a true positive
    plain, _ = eval_map(det_results, annotations, nproc=1, logger='silent')
    assert plain == pytest.approx(1 / 3, abs=1e-6)
    oid, _ = eval_map(
        det_results, annotations, dataset='oid_v6', logger='silent'
    )
    assert oid == pytest.approx(1 / 3, abs=1e-6)
