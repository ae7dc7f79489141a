"""PASCAL-VOC-style mean average precision of box detections
(MMDetection 2.x's ``eval_map``).

Each detection, in descending score order, is a true positive when its
best-overlapping gt box of its class has IoU >= ``iou_thr`` and was not
matched yet, a false positive otherwise; detections matched to ignored gt
boxes (``bboxes_ignore`` or outside the scale range) count as neither.
Open Images (``tpfp_openimages``) adds group-of boxes: detections left
unmatched are matched to them by intersection over the detection's area
(IoA), and each group-of box counts once, with its best detection's score.
ImageNet's size-dependent thresholds (``tpfp_imagenet``) are not included.
"""

from multiprocessing import Pool

import mmcv
import numpy as np
from mmcv.utils import print_log
from terminaltables import AsciiTable

from .bbox_overlaps import bbox_overlaps, box_areas
from .class_names import get_classes

# recall thresholds of the '11points' (VOC2007) average precision
_ELEVEN_POINTS = np.arange(0, 1 + 1e-3, 0.1)


def _area_ap(recalls, precisions):
    """Area under the precision envelope, per row of (S, D) arrays."""
    rows = len(recalls)
    mrec = np.hstack([np.zeros((rows, 1)), recalls, np.ones((rows, 1))])
    mpre = np.hstack([np.zeros((rows, 1)), precisions, np.zeros((rows, 1))])
    # precision made non-increasing from the right
    mpre = np.maximum.accumulate(mpre[:, ::-1], axis=1)[:, ::-1]
    ap = np.zeros(rows, dtype=np.float32)
    for i in range(rows):
        steps = np.flatnonzero(mrec[i, 1:] != mrec[i, :-1]) + 1
        ap[i] = np.sum((mrec[i, steps] - mrec[i, steps - 1]) * mpre[i, steps])
    return ap


def _eleven_point_ap(recalls, precisions):
    """Mean over recall thresholds 0, 0.1, ..., 1 of the highest precision
    at recall >= threshold (0 if never reached), per row of (S, D)."""
    reached = recalls[:, None, :] >= _ELEVEN_POINTS[None, :, None]
    best = np.where(reached, precisions[:, None, :], 0).max(axis=2, initial=0)
    ap = np.zeros(len(recalls), dtype=np.float32)
    for column in best.T:  # summed in float32, point by point
        ap += column
    return ap / np.float32(len(_ELEVEN_POINTS))


def average_precision(recalls, precisions, mode='area'):
    """Average precision from a precision-recall curve.

    Args:
        recalls (ndarray): (D,) or (S, D) cumulative recalls of the
            detections in score order (S scale ranges).
        precisions (ndarray): the same shape, their precisions.
        mode (str): 'area' (area under the non-increasing precision
            envelope) or '11points' (mean of the best precision at recall
            >= 0, 0.1, ..., 1; VOC2007).

    Returns:
        float32 | ndarray: the AP, or (S,) float32 APs for 2-d inputs.
    """
    recalls, precisions = np.asarray(recalls), np.asarray(precisions)
    if recalls.shape != precisions.shape or recalls.ndim not in (1, 2):
        raise ValueError(
            'recalls and precisions must have the same (D,) or (S, D) shape, '
            f'got {recalls.shape} and {precisions.shape}'
        )
    rows_r, rows_p = np.atleast_2d(recalls), np.atleast_2d(precisions)
    if mode == 'area':
        ap = _area_ap(rows_r, rows_p)
    elif mode == '11points':
        ap = _eleven_point_ap(rows_r, rows_p)
    else:
        raise ValueError(
            'Unrecognized mode, only "area" and "11points" are supported'
        )
    return ap[0] if recalls.ndim == 1 else ap


def _in_range(areas, area_range):
    """Which ``areas`` lie in [min, max) (all of them for (None, None))."""
    low, high = area_range
    if low is None:
        return np.ones(len(areas), dtype=bool)
    return (areas >= low) & (areas < high)


def tpfp_default(
    det_bboxes,
    gt_bboxes,
    gt_bboxes_ignore=None,
    iou_thr=0.5,
    area_ranges=None,
    use_legacy_coordinate=False,
    **kwargs,
):
    """True and false positives of one image's detections of one class.

    A detection is matched to the gt box it overlaps most (ignored ones
    included). Below ``iou_thr`` it is a false positive (with area ranges:
    only if its own area is in the range); else, if that gt box is ignored
    (``gt_bboxes_ignore``, or its area outside the range) it is neither,
    otherwise the highest-scored detection on it is a true positive and
    the others false positives.

    Args:
        det_bboxes (ndarray): (m, 5) boxes with scores.
        gt_bboxes (ndarray): (n, 4) gt boxes.
        gt_bboxes_ignore (ndarray | None): (k, 4) ignored gt boxes.
        iou_thr (float): IoU threshold of a match.
        area_ranges (list[tuple] | None): [(min_area, max_area), ...] in
            pixels^2, each evaluated separately.
        use_legacy_coordinate (bool): w = x2 - x1 + 1 (MMDetection 1.x).
        **kwargs: ignored (the Open Images options).

    Returns:
        tuple[ndarray, ndarray]: tp and fp, each (num_scales, m) float32 of
        0 / 1, in the order of ``det_bboxes``.
    """
    extra = 1.0 if use_legacy_coordinate else 0.0
    det_bboxes = np.asarray(det_bboxes)
    if det_bboxes.size == 0:
        det_bboxes = np.zeros((0, 5), dtype=np.float32)
    if gt_bboxes_ignore is None:
        gt_bboxes_ignore = np.zeros((0, 4), dtype=np.float32)
    gts = np.vstack([np.reshape(gt_bboxes, (-1, 4)), gt_bboxes_ignore])
    is_ignored = np.arange(len(gts)) >= len(gt_bboxes)
    ranges = [(None, None)] if area_ranges is None else area_ranges
    tp = np.zeros((len(ranges), len(det_bboxes)), dtype=np.float32)
    fp = np.zeros_like(tp)
    det_areas = box_areas(det_bboxes, extra)
    if len(gts) == 0:
        for k, area_range in enumerate(ranges):
            fp[k, _in_range(det_areas, area_range)] = 1
        return tp, fp
    ious = bbox_overlaps(
        det_bboxes, gts, use_legacy_coordinate=use_legacy_coordinate
    )
    best_gt = ious.argmax(axis=1)
    hit = ious.max(axis=1) >= iou_thr
    order = np.argsort(-det_bboxes[:, -1])
    gt_areas = box_areas(gts, extra)
    for k, area_range in enumerate(ranges):
        counted = ~is_ignored & _in_range(gt_areas, area_range)
        fp[k, ~hit & _in_range(det_areas, area_range)] = 1
        # hits on counted gt boxes, in score order: the first on each gt
        # box is a true positive, any later one a false positive
        dets = order[hit[order] & counted[best_gt[order]]]
        _, first = np.unique(best_gt[dets], return_index=True)
        fp[k, dets] = 1
        fp[k, dets[first]] = 0
        tp[k, dets[first]] = 1
    return tp, fp


def _score_order(det_bboxes):
    return np.argsort(-det_bboxes[:, -1])


def _match_plain(tp, fp, ious, counted, det_in_range, iou_thr, order):
    """Stage 1 of ``tpfp_openimages`` for one scale range (in place): IoU
    matching against the non-group-of boxes, as in ``tpfp_default``."""
    if ious.shape[1] == 0:
        fp[det_in_range] = 1
        return
    best, best_iou = ious.argmax(axis=1), ious.max(axis=1)
    covered = np.zeros(ious.shape[1], dtype=bool)
    for i in order:
        if best_iou[i] < iou_thr:
            fp[i] = float(det_in_range[i])
        elif counted[best[i]]:
            tp[i], fp[i] = float(not covered[best[i]]), float(covered[best[i]])
            covered[best[i]] = True


def _match_group_of(tp, ioas, counted, det_bboxes, ioa_thr, order):
    """Stage 2 for one scale range: detections that are no true positive
    and cover a counted group-of box by IoA >= ``ioa_thr`` are merged
    into it. Returns (matched (m,) bool, tp of each group-of box (g,),
    the best detection of each (g, 5), zeros where none)."""
    matched = np.zeros(len(det_bboxes), dtype=bool)
    group_tp = np.zeros(ioas.shape[1], dtype=np.float32)
    group_dets = np.zeros((ioas.shape[1], det_bboxes.shape[1]))
    best, best_ioa = ioas.argmax(axis=1), ioas.max(axis=1)
    for i in order:
        g = best[i]
        if tp[i] or best_ioa[i] < ioa_thr or not counted[g]:
            continue
        matched[i] = True
        group_tp[g] = 1
        if group_dets[g, -1] < det_bboxes[i, -1]:
            group_dets[g] = det_bboxes[i]
    return matched, group_tp, group_dets


def tpfp_openimages(
    det_bboxes,
    gt_bboxes,
    gt_bboxes_ignore=None,
    iou_thr=0.5,
    area_ranges=None,
    use_legacy_coordinate=False,
    gt_bboxes_group_of=None,
    use_group_of=True,
    ioa_thr=0.5,
    **kwargs,
):
    """True and false positives with Open Images' group-of boxes.

    Stage 1 matches detections to the non-group-of gt boxes as
    ``tpfp_default`` does; stage 2 merges every detection that is no true
    positive into the group-of box it covers most, if that IoA >=
    ``ioa_thr``. Each group-of box then stands for one detection (its best
    score; tp = 1) or, never matched, one false positive of score 0.

    Args:
        det_bboxes (ndarray): (m, 5) detections of one class in one image.
        gt_bboxes (ndarray): (n, 4) gt boxes.
        gt_bboxes_ignore (ndarray | None): (k, 4) ignored gt boxes.
        iou_thr (float), area_ranges (list | None),
        use_legacy_coordinate (bool): as ``tpfp_default``.
        gt_bboxes_group_of (ndarray | None): (n,) bool, which gt boxes are
            group-of boxes.
        use_group_of (bool): use them (else every box is a plain one).
        ioa_thr (float): IoA threshold of a group-of match.

    Returns:
        tuple: tp and fp ((S, m') float32) and the (m', 5) detections they
        refer to (the unmerged ones, then one row per group-of box).
    """
    extra = 1.0 if use_legacy_coordinate else 0.0
    det_bboxes = np.asarray(det_bboxes)
    if det_bboxes.size == 0:
        det_bboxes = np.zeros((0, 5), dtype=np.float32)
    if gt_bboxes_ignore is None:
        gt_bboxes_ignore = np.zeros((0, 4), dtype=np.float32)
    gt_bboxes = np.reshape(gt_bboxes, (-1, 4))
    gts = np.vstack([gt_bboxes, gt_bboxes_ignore])
    is_ignored = np.arange(len(gts)) >= len(gt_bboxes)
    is_group = np.zeros(len(gts), dtype=bool)
    if gt_bboxes_group_of is not None and use_group_of:
        is_group[: len(gt_bboxes_group_of)] = gt_bboxes_group_of
    ranges = [(None, None)] if area_ranges is None else area_ranges
    tp = np.zeros((len(ranges), len(det_bboxes)), dtype=np.float32)
    fp = np.zeros_like(tp)
    det_areas = box_areas(det_bboxes, extra)
    if len(gts) == 0:
        for k, area_range in enumerate(ranges):
            fp[k, _in_range(det_areas, area_range)] = 1
        return tp, fp, det_bboxes
    kw = dict(use_legacy_coordinate=use_legacy_coordinate)
    ious = bbox_overlaps(det_bboxes, gts[~is_group], **kw)
    gt_areas = box_areas(gts, extra)
    order = _score_order(det_bboxes)
    counted = [
        ~is_ignored & _in_range(gt_areas, area_range) for area_range in ranges
    ]
    for k, area_range in enumerate(ranges):
        in_range = _in_range(det_areas, area_range)
        _match_plain(
            tp[k], fp[k], ious, counted[k][~is_group], in_range, iou_thr, order
        )
    if not is_group.any():
        return tp, fp, det_bboxes
    ioas = bbox_overlaps(det_bboxes, gts[is_group], mode='iof', **kw)
    tps, fps = [], []
    for k in range(len(ranges)):
        matched, group_tp, group_dets = _match_group_of(
            tp[k], ioas, counted[k][is_group], det_bboxes, ioa_thr, order
        )
        tps.append(np.concatenate([tp[k][~matched], group_tp]))
        fps.append(np.concatenate([fp[k][~matched], group_tp <= 0]))
        dets = np.vstack([det_bboxes[~matched], group_dets])
    return np.vstack(tps), np.vstack(fps).astype(np.float32), dets


def get_cls_group_ofs(annotations, class_id):
    """Per image, the (n,) bool group-of flags of the class's gt boxes
    (all False where an annotation has no ``gt_is_group_ofs``)."""
    flags = []
    for ann in annotations:
        keep = ann['labels'] == class_id
        if ann.get('gt_is_group_ofs', None) is not None:
            flags.append(np.asarray(ann['gt_is_group_ofs'], bool)[keep])
        else:
            flags.append(np.zeros(int(keep.sum()), dtype=bool))
    return flags


def get_cls_results(det_results, annotations, class_id):
    """One class's detections and gt boxes of every image.

    Args:
        det_results (list[list[ndarray]]): see ``eval_map``.
        annotations (list[dict]): see ``eval_map``.
        class_id (int): the class label.

    Returns:
        tuple[list[ndarray]]: per image (m, 5) detections, (n, 4) gt boxes
        and (k, 4) ignored gt boxes of the class.
    """
    dets = [img_res[class_id] for img_res in det_results]
    gts, ignored = [], []
    for ann in annotations:
        gts.append(ann['bboxes'][ann['labels'] == class_id, :])
        if ann.get('labels_ignore', None) is not None:
            keep = ann['labels_ignore'] == class_id
            ignored.append(ann['bboxes_ignore'][keep, :])
        else:
            ignored.append(np.zeros((0, 4), dtype=np.float32))
    return dets, gts, ignored


def _choose_tpfp_fn(tpfp_fn, dataset, use_group_of):
    """``tpfp_fn``; when None, ``tpfp_openimages`` for Open Images
    ('oid_challenge', 'oid_v6' or ``use_group_of``), else
    ``tpfp_default``; ImageNet's matching raises NotImplementedError."""
    if tpfp_fn is None:
        if dataset in ('det', 'vid'):
            raise NotImplementedError(
                "ImageNet evaluation (tpfp_imagenet, dataset 'det' / 'vid') "
                'is not implemented; pass tpfp_fn=tpfp_default to use the '
                'plain IoU matching'
            )
        if dataset in ('oid_challenge', 'oid_v6') or use_group_of:
            return tpfp_openimages
        return tpfp_default
    if not callable(tpfp_fn):
        raise ValueError(
            f'tpfp_fn has to be a function or None, but got {tpfp_fn}'
        )
    return tpfp_fn


def _count_gts(cls_gts, area_ranges, extra):
    """Number of (non-ignored) gt boxes per scale range, (S,) int."""
    if area_ranges is None:
        return np.array([sum(len(g) for g in cls_gts)])
    areas = box_areas(
        np.vstack([np.reshape(g, (-1, 4)) for g in cls_gts]), extra
    )
    return np.array([_in_range(areas, rg).sum() for rg in area_ranges])


def _class_result(cls_dets, tpfp, num_gts, single_scale, mode):
    """``eval_map``'s result dict of one class from its per-image tp/fp."""
    # (m, 5) with scores; score-less (m, 4) boxes rank by their last
    # column, as in MMDetection
    width = next((np.shape(d)[-1] for d in cls_dets if np.size(d)), 5)
    dets = np.vstack([np.reshape(d, (-1, width)) for d in cls_dets])
    order = np.argsort(-dets[:, -1])
    tp = np.cumsum(np.hstack([t for t, _ in tpfp])[:, order], axis=1)
    fp = np.cumsum(np.hstack([f for _, f in tpfp])[:, order], axis=1)
    eps = np.finfo(np.float32).eps
    recalls = tp / np.maximum(num_gts[:, None], eps)
    precisions = tp / np.maximum(tp + fp, eps)
    if single_scale:
        recalls, precisions, num_gts = (
            recalls[0],
            precisions[0],
            num_gts.item(),
        )
    return dict(
        num_gts=num_gts,
        num_dets=len(dets),
        recall=recalls,
        precision=precisions,
        ap=average_precision(recalls, precisions, mode),
    )


def _mean_ap(eval_results, num_scales, single_scale):
    """Mean of the APs of the classes with gt boxes: a float, or a list of
    floats per scale range (0.0 where no class has gt boxes)."""
    aps = np.array([r['ap'] for r in eval_results]).reshape(-1, num_scales)
    has_gt = (
        np.array([r['num_gts'] for r in eval_results]).reshape(-1, num_scales)
        > 0
    )
    means = [
        aps[has_gt[:, s], s].mean().item() if has_gt[:, s].any() else 0.0
        for s in range(num_scales)
    ]
    return means[0] if single_scale else means


def eval_map(
    det_results,
    annotations,
    scale_ranges=None,
    iou_thr=0.5,
    ioa_thr=None,
    dataset=None,
    logger=None,
    tpfp_fn=None,
    nproc=4,
    use_legacy_coordinate=False,
    use_group_of=False,
    eval_mode='area',
):
    """Mean average precision over classes, and its table (through
    ``print_map_summary``).

    Args:
        det_results (list[list[ndarray]]): per image, per class (m, 5)
            [x1, y1, x2, y2, score] detections.
        annotations (list[dict]): per image: 'bboxes' (n, 4), 'labels'
            (n,), optionally 'bboxes_ignore' (k, 4), 'labels_ignore' (k,),
            'gt_is_group_ofs' (n,).
        scale_ranges (list[tuple] | None): [(min, max), ...] box sizes in
            pixels; (32, 64) keeps areas in [32**2, 64**2).
        iou_thr (float): IoU threshold of a match.
        ioa_thr (float | None): IoA threshold of a group-of match (Open
            Images; None: 0.5).
        dataset (str | list[str] | None): a data set name (get_classes) or
            the class names, for the table; 'voc07' selects '11points'.
        logger (logging.Logger | str | None): where the table goes
            ('silent': nowhere).
        tpfp_fn (callable | None): tp/fp function with ``tpfp_default``'s
            positional arguments; None: ``tpfp_default``.
        nproc (int): worker processes for the tp/fp (a pool only when > 1
            and there is more than one image).
        use_legacy_coordinate (bool): w = x2 - x1 + 1 (MMDetection 1.x).
        use_group_of (bool): Open Images' group-of boxes
            (``annotations[i]['gt_is_group_ofs']``, (n,) bool); selects
            ``tpfp_openimages`` when ``tpfp_fn`` is None, as 'oid_v6' and
            'oid_challenge' do.
        eval_mode (str): 'area' or '11points' AP.

    Returns:
        tuple: (mean_ap, eval_results): mean_ap is a float (a list of
        floats per scale range with ``scale_ranges``); eval_results has a
        dict per class with num_gts (int, or (S,) with scale ranges),
        num_dets, recall and precision ((D,) or (S, D), detections in score
        order) and ap (float32 or (S,)).
    """
    if len(det_results) != len(annotations):
        raise AssertionError(
            f'{len(det_results)} detection results for '
            f'{len(annotations)} annotated images'
        )
    if nproc < 1:
        raise AssertionError('nproc must be at least one.')
    tpfp_fn = _choose_tpfp_fn(tpfp_fn, dataset, use_group_of)
    extra = 1.0 if use_legacy_coordinate else 0.0
    area_ranges = (
        None
        if scale_ranges is None
        else [(low**2, high**2) for low, high in scale_ranges]
    )
    mode = '11points' if dataset == 'voc07' else eval_mode
    num_imgs = len(det_results)
    num_scales = 1 if scale_ranges is None else len(scale_ranges)
    pool = Pool(min(nproc, num_imgs)) if nproc > 1 and num_imgs > 1 else None
    starmap = pool.starmap if pool is not None else _serial_starmap
    eval_results = []
    try:
        for class_id in range(len(det_results[0]) if num_imgs else 0):
            dets, gts, ignored = get_cls_results(
                det_results, annotations, class_id
            )
            args = [
                (*t, iou_thr, area_ranges, use_legacy_coordinate)
                for t in zip(dets, gts, ignored)
            ]
            if tpfp_fn is tpfp_openimages and use_group_of:
                group_ofs = get_cls_group_ofs(annotations, class_id)
                ioa = 0.5 if ioa_thr is None else ioa_thr
                args = [(*a, g, True, ioa) for a, g in zip(args, group_ofs)]
            tpfp = starmap(tpfp_fn, args)
            if tpfp and len(tpfp[0]) == 3:  # Open Images merges detections
                dets = [t[2] for t in tpfp]
                tpfp = [t[:2] for t in tpfp]
            num_gts = _count_gts(gts, area_ranges, extra)
            eval_results.append(
                _class_result(dets, tpfp, num_gts, scale_ranges is None, mode)
            )
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    mean_ap = _mean_ap(eval_results, num_scales, scale_ranges is None)
    if eval_results:
        print_map_summary(
            mean_ap, eval_results, dataset, area_ranges, logger=logger
        )
    return mean_ap, eval_results


def _serial_starmap(fn, args):
    """``Pool.starmap`` in this process."""
    return [fn(*a) for a in args]


def print_map_summary(
    mean_ap, results, dataset=None, scale_ranges=None, logger=None
):
    """Log a table per scale range: per class the gt count, detection
    count, final recall and AP (3 decimals), and the mAP as footer.

    Args:
        mean_ap (float | list[float]): from ``eval_map``.
        results (list[dict]): from ``eval_map``.
        dataset (str | list[str] | None): data set name (class names via
            ``get_classes``) or class names; None: class indices.
        scale_ranges (list[tuple] | None): printed above each table.
        logger (logging.Logger | str | None): 'silent' prints nothing.
    """
    if logger == 'silent':
        return
    num_scales = np.size(results[0]['ap'])
    if scale_ranges is not None and len(scale_ranges) != num_scales:
        raise AssertionError(
            f'{len(scale_ranges)} scale ranges for {num_scales} APs'
        )
    if dataset is None:
        names = [str(i) for i in range(len(results))]
    elif mmcv.is_str(dataset):
        names = get_classes(dataset)
    else:
        names = dataset
    means = mean_ap if isinstance(mean_ap, list) else [mean_ap]
    for s in range(num_scales):
        if scale_ranges is not None:
            print_log(f'Scale range {scale_ranges[s]}', logger=logger)
        rows = [['class', 'gts', 'dets', 'recall', 'ap']]
        for name, res in zip(names, results):
            rows.append(_summary_row(name, res, s, num_scales))
        rows.append(['mAP', '', '', '', f'{means[s]:.3f}'])
        table = AsciiTable(rows)
        table.inner_footing_row_border = True
        print_log('\n' + table.table, logger=logger)


def _summary_row(name, res, scale, num_scales):
    """[name, gts, dets, recall, ap] of one class at one scale range."""
    recall = np.asarray(res['recall']).reshape(num_scales, -1)[scale]
    # float32 like the arrays 2.x tabulates from, for the same rounding
    final_recall = np.float32(recall[-1] if recall.size else 0.0)
    return [
        name,
        int(np.reshape(res['num_gts'], -1)[scale]),
        res['num_dets'],
        f'{final_recall:.3f}',
        f'{np.float32(np.reshape(res["ap"], -1)[scale]):.3f}',
    ]
