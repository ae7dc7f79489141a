"""Recall of region proposals against ground truth boxes (MMDetection
2.x's ``eval_recalls``; ``average_recall`` is ``CocoDataset``'s metric
``proposal_fast``)."""

from collections.abc import Sequence

import numpy as np
from mmcv.utils import print_log
from terminaltables import AsciiTable

from .bbox_overlaps import _pairwise_overlaps


def set_recall_param(proposal_nums, iou_thrs):
    """``proposal_nums`` and ``iou_thrs`` as 1-d arrays.

    Args:
        proposal_nums (int | Sequence[int] | ndarray): top-N values.
        iou_thrs (float | Sequence[float] | ndarray | None): IoU thresholds;
            None means 0.5.

    Returns:
        tuple[ndarray, ndarray]: (P,) proposal numbers, (T,) thresholds.
    """
    if isinstance(proposal_nums, (int, np.integer)):
        proposal_nums = [proposal_nums]
    if iou_thrs is None:
        iou_thrs = [0.5]
    elif isinstance(iou_thrs, (float, np.floating)):
        iou_thrs = [iou_thrs]
    elif isinstance(iou_thrs, Sequence):
        iou_thrs = list(iou_thrs)
    return np.asarray(proposal_nums).reshape(-1), np.asarray(iou_thrs)


def _sorted_boxes(proposals):
    """(k, 4) boxes of one image's proposals, highest score first when a
    fifth (score) column is present, else in the given order."""
    proposals = np.asarray(proposals)
    if proposals.size == 0:
        return np.zeros((0, 4), dtype=np.float32)
    if proposals.ndim == 2 and proposals.shape[1] == 5:
        proposals = proposals[np.argsort(proposals[:, 4])[::-1]]
    return proposals[:, :4]


def _greedy_matched_ious(ious):
    """IoU of each ground truth box under a greedy one-to-one matching:
    the remaining (gt, proposal) pair of highest IoU is matched first
    (first row, then first column, on ties).

    Args:
        ious (ndarray): (G, K) IoU of G gt boxes with K proposals.

    Returns:
        ndarray: (G,) matched IoU; a gt left without a proposal gets -1,
        and every gt of an image without proposals gets 0.
    """
    num_gts, num_props = ious.shape
    if num_gts == 0 or num_props == 0:
        return np.zeros(num_gts)
    ious = ious.astype(np.float64)  # a copy, overwritten below
    matched = np.full(num_gts, -1.0)
    for _ in range(min(num_gts, num_props)):
        gt, prop = np.unravel_index(ious.argmax(), ious.shape)
        matched[gt] = ious[gt, prop]
        ious[gt, :] = -1
        ious[:, prop] = -1
    return matched


def _hit_counts(all_ious, proposal_nums, iou_thrs):
    """How many gt boxes the top-N proposals match at each threshold.

    Args:
        all_ious (list[ndarray]): per image, (G_i, K_i) IoU with the
            proposals in rank order.
        proposal_nums (ndarray): (P,) top-N values.
        iou_thrs (ndarray): (T,) IoU thresholds.

    Returns:
        tuple[ndarray, int]: (P, T) counts of gt boxes matched at
        IoU >= thr, and the number of gt boxes.
    """
    num_gts = sum(len(ious) for ious in all_ious)
    counts = np.zeros((len(proposal_nums), len(iou_thrs)), dtype=np.int64)
    if num_gts == 0:
        return counts, 0
    for k, num in enumerate(proposal_nums):
        matched = np.concatenate(
            [_greedy_matched_ious(ious[:, :num]) for ious in all_ious]
        )
        counts[k] = (matched[None, :] >= iou_thrs[:, None]).sum(axis=1)
    return counts, num_gts


def _recalls(all_ious, proposal_nums, iou_thrs):
    """(P, T) recall table (see ``_hit_counts``); 0 without gt boxes."""
    counts, num_gts = _hit_counts(all_ious, proposal_nums, iou_thrs)
    return counts / float(max(num_gts, 1))


def _image_ious(gts, ranked, proposal_nums, legacy, dtype):
    """Per image, the (G_i, K_i) IoU of its gt boxes with its first
    ``max(proposal_nums)`` ranked (K, 4) proposals, in ``dtype``."""
    top = int(np.max(proposal_nums)) if np.size(proposal_nums) else 0
    return [
        _pairwise_overlaps(
            np.zeros((0, 4)) if gt is None else gt,
            boxes[:top],
            'iou',
            1e-6,
            legacy,
            dtype,
        )
        for gt, boxes in zip(gts, ranked)
    ]


def eval_recalls(
    gts,
    proposals,
    proposal_nums=None,
    iou_thrs=0.5,
    logger=None,
    use_legacy_coordinate=False,
):
    """Recall of the top-N proposals of each image at IoU thresholds, and
    its table printed through ``print_recall_summary``.

    Args:
        gts (list[ndarray | None]): per image, (G, 4) gt boxes in pixels.
        proposals (list[ndarray]): per image, (K, 4) boxes in rank order, or
            (K, 5) boxes with scores (ranked by score here).
        proposal_nums (int | Sequence[int] | None): the N; None: all
            proposals.
        iou_thrs (float | Sequence[float]): IoU thresholds.
        logger (logging.Logger | str | None): where the table goes
            (``mmcv.utils.print_log``; 'silent' prints nothing).
        use_legacy_coordinate (bool): boxes are 1.x style (w = x2 - x1 + 1).

    Returns:
        ndarray: (len(proposal_nums), len(iou_thrs)) recalls in [0, 1].
    """
    if len(gts) != len(proposals):
        raise ValueError(
            f'{len(gts)} images of gt boxes but {len(proposals)} of proposals'
        )
    ranked = [_sorted_boxes(p) for p in proposals]
    if proposal_nums is None:
        proposal_nums = max([len(p) for p in ranked], default=0)
    proposal_nums, iou_thrs = set_recall_param(proposal_nums, iou_thrs)
    all_ious = _image_ious(
        gts, ranked, proposal_nums, use_legacy_coordinate, np.float32
    )
    recalls = _recalls(all_ious, proposal_nums, iou_thrs)
    print_recall_summary(recalls, proposal_nums, iou_thrs, logger=logger)
    return recalls


def print_recall_summary(
    recalls, proposal_nums, iou_thrs, row_idxs=None, col_idxs=None, logger=None
):
    """Log a recall table: one row per proposal number, one column per IoU
    threshold, values with 3 decimals.

    Args:
        recalls (ndarray): (P, T) from ``eval_recalls``.
        proposal_nums (Sequence[int] | ndarray): (P,) row labels.
        iou_thrs (Sequence[float] | ndarray): (T,) column labels.
        row_idxs (ndarray | None): the rows to print (default all).
        col_idxs (ndarray | None): the columns to print (default all).
        logger (logging.Logger | str | None): see ``mmcv.utils.print_log``.
    """
    proposal_nums = np.asarray(proposal_nums, dtype=np.int32).reshape(-1)
    iou_thrs = np.asarray(iou_thrs).reshape(-1)
    rows = np.arange(proposal_nums.size) if row_idxs is None else row_idxs
    cols = np.arange(iou_thrs.size) if col_idxs is None else col_idxs
    table = [[''] + iou_thrs[cols].tolist()]
    for r in np.asarray(rows).reshape(-1):
        values = np.asarray(recalls)[r, cols].tolist()
        table.append([proposal_nums[r]] + [f'{v:.3f}' for v in values])
    print_log('\n' + AsciiTable(table).table, logger=logger)


def _curve(xs, ys, xlabel, xlim):
    """A matplotlib Figure (no window) with the line ``ys`` over ``xs``."""
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.add_subplot()
    ax.plot(xs, ys)
    ax.set_xlabel(xlabel)
    ax.set_ylabel('Recall')
    ax.axis([xlim[0], xlim[1], 0, 1])
    return fig


def plot_num_recall(recalls, proposal_nums):
    """Recall over the number of proposals, from (0, 0).

    Args:
        recalls (ndarray | list): (P,) recalls at one IoU threshold.
        proposal_nums (ndarray | list): (P,) proposal numbers.

    Returns:
        matplotlib.figure.Figure: the plot (not shown; save it with
        ``fig.savefig``).
    """
    nums = np.asarray(proposal_nums).tolist()
    return _curve(
        [0] + nums,
        [0] + np.asarray(recalls).tolist(),
        'Proposal num',
        (0, max(nums)),
    )


def plot_iou_recall(recalls, iou_thrs):
    """Recall over the IoU threshold, ending at (1, 0).

    Args:
        recalls (ndarray | list): (T,) recalls for one proposal number.
        iou_thrs (ndarray | list): (T,) IoU thresholds.

    Returns:
        matplotlib.figure.Figure: the plot (not shown).
    """
    thrs = np.asarray(iou_thrs).tolist()
    return _curve(
        thrs + [1.0],
        np.asarray(recalls).tolist() + [0.0],
        'IoU',
        (min(thrs), 1),
    )


def average_recall(gt_bboxes, proposals, proposal_nums, iou_thrs):
    """Recall of the first N proposals (in the given order, scores are not
    used), averaged over the IoU thresholds: the row mean of
    ``eval_recalls``'s table, with the IoUs computed in float64 (so an IoU
    equal to a threshold, e.g. 7/10 against 0.7, still counts).

    Args:
        gt_bboxes (list[ndarray]): per image, (G, 4) boxes.
        proposals (list[ndarray]): per image, (K, 4+) boxes, best first.
        proposal_nums (Sequence[int]): the N to evaluate.
        iou_thrs (Sequence[float]): IoU thresholds.

    Returns:
        ndarray: (len(proposal_nums),) average recall.
    """
    boxes = [
        np.asarray(p)[:, :4] if len(p) else np.zeros((0, 4)) for p in proposals
    ]
    proposal_nums, iou_thrs = set_recall_param(list(proposal_nums), iou_thrs)
    all_ious = _image_ious(gt_bboxes, boxes, proposal_nums, False, np.float64)
    counts, num_gts = _hit_counts(all_ious, proposal_nums, iou_thrs)
    # (mean count) / num_gts: the row mean up to the last bit, and the
    # exact numbers of the earlier implementation
    return counts.mean(axis=1) / max(num_gts, 1)
