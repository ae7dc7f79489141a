"""Non-maximum suppression: single-class, batched, and multi-class.

mmcv's compiled ``nms`` / ``soft_nms`` / ``batched_nms`` are not available
(mmcv without its CUDA/C++ ops), so the same interfaces are provided here on
top of ``torchvision.ops`` and torch. Kept boxes are always in descending
score order.
"""

import numpy as np
import torch
from torchvision.ops import box_iou
from torchvision.ops import nms as tv_nms

from ..bbox.iou_calculators import bbox_overlaps

NMS_TYPES = ('nms', 'soft_nms')
# the keys of nms_cfg each type takes (besides type, class_agnostic and
# split_thr, which batched_nms reads)
NMS_KEYS = {
    'nms': {'iou_threshold', 'offset', 'score_threshold', 'max_num'},
    'soft_nms': {'iou_threshold', 'sigma', 'min_score', 'method', 'offset'},
}
SOFT_NMS_METHODS = ('naive', 'linear', 'gaussian')


def _offset_boxes(boxes, offset):
    """Boxes whose IoU without offset equals the IoU of ``boxes`` with
    widths ``x2 - x1 + offset`` (the legacy +1 convention)."""
    if offset == 0:
        return boxes
    if offset != 1:
        raise ValueError(f'offset must be 0 or 1, got {offset}')
    return torch.cat([boxes[:, :2], boxes[:, 2:] + 1], dim=1)


def nms(boxes, scores, iou_threshold, offset=0, score_threshold=0, max_num=-1):
    """Single-class NMS with mmcv's interface (``mmcv.ops.nms``).

    Args:
        boxes (Tensor | ndarray): (N, 4) boxes ``x1, y1, x2, y2``.
        scores (Tensor | ndarray): (N,) scores.
        iou_threshold (float): boxes overlapping a better one by a larger
            IoU are removed.
        offset (int): 0, or 1 for widths ``x2 - x1 + 1``.
        score_threshold (float): boxes with a score not above it are
            dropped first (when > 0).
        max_num (int): keep at most this many (when > 0).

    Returns:
        tuple: ``dets`` (K, 5) boxes and scores, descending by score, and
        ``inds`` (K,) their indices in the input; of the input's type.
    """
    is_numpy = isinstance(boxes, np.ndarray)
    if is_numpy:
        boxes, scores = torch.from_numpy(boxes), torch.from_numpy(scores)
    if (
        boxes.dim() != 2
        or boxes.size(1) != 4
        or scores.dim() != 1
        or scores.size(0) != boxes.size(0)
    ):
        raise ValueError(
            f'nms needs (N, 4) boxes and (N,) scores, got '
            f'{tuple(boxes.shape)} and {tuple(scores.shape)}'
        )
    inds = torch.arange(boxes.size(0), device=boxes.device)
    if score_threshold > 0:
        valid = scores > score_threshold
        boxes, scores, inds = boxes[valid], scores[valid], inds[valid]
    keep = tv_nms(_offset_boxes(boxes, offset), scores, iou_threshold)
    if max_num > 0:
        keep = keep[:max_num]
    dets = torch.cat([boxes[keep], scores[keep, None]], dim=1)
    inds = inds[keep]
    if is_numpy:
        return dets.numpy(), inds.numpy()
    return dets, inds


def soft_score_weights(ious, iou_threshold, sigma, method):
    """Factor on the scores of boxes overlapping a kept box by ``ious``:
    'naive' 0 (hard NMS), 'linear' ``1 - iou`` (both where ``iou >=
    iou_threshold``, else 1), 'gaussian' ``exp(-iou^2 / sigma)``."""
    if method == 'gaussian':
        return torch.exp(-(ious * ious) / sigma)
    suppressed = 0 if method == 'naive' else 1 - ious
    return torch.where(
        ious >= iou_threshold, suppressed, torch.ones_like(ious)
    )


def soft_nms(
    boxes,
    scores,
    iou_threshold=0.3,
    sigma=0.5,
    min_score=1e-3,
    method='linear',
    offset=0,
):
    """Soft-NMS (Bodla et al., 2017) with mmcv's interface
    (``mmcv.ops.soft_nms``).

    Repeatedly keeps the box of highest (current) score and multiplies the
    scores of the boxes left by :func:`soft_score_weights` of their IoU with
    it; boxes whose score falls below ``min_score`` are dropped.

    Args:
        boxes (Tensor | ndarray): (N, 4) boxes ``x1, y1, x2, y2``.
        scores (Tensor | ndarray): (N,) scores.
        iou_threshold (float): IoU from which 'linear' / 'naive' decay.
        sigma (float): width of the 'gaussian' decay.
        min_score (float): boxes scoring below it are dropped.
        method (str): 'linear', 'gaussian' or 'naive'.
        offset (int): 0, or 1 for widths ``x2 - x1 + 1``.

    Returns:
        tuple: ``dets`` (K, 5) kept boxes with their decayed scores, in
        the order kept (descending score), and ``inds`` (K,) their indices
        in the input; of the input's type.
    """
    if method not in SOFT_NMS_METHODS:
        raise ValueError(
            f'soft_nms method must be one of {SOFT_NMS_METHODS}, '
            f'got {method!r}'
        )
    is_numpy = isinstance(boxes, np.ndarray)
    if is_numpy:
        boxes, scores = torch.from_numpy(boxes), torch.from_numpy(scores)
    ious = box_iou(_offset_boxes(boxes, offset), _offset_boxes(boxes, offset))
    current = scores.clone()
    alive = torch.ones_like(current, dtype=torch.bool)
    kept = []
    while bool(alive.any()):
        best = torch.where(alive, current, current.new_tensor(-np.inf))
        i = int(best.argmax())
        kept.append(i)
        alive[i] = False
        decay = soft_score_weights(ious[i], iou_threshold, sigma, method)
        current = torch.where(alive, current * decay, current)
        alive &= current >= min_score
    inds = torch.tensor(kept, dtype=torch.long, device=boxes.device)
    dets = torch.cat([boxes[inds], current[inds, None]], dim=1)
    if is_numpy:
        return dets.numpy(), inds.numpy()
    return dets, inds


def _parse_nms_cfg(nms_cfg, class_agnostic):
    """Split an ``nms_cfg`` dict into (class_agnostic, type, kwargs of the
    NMS function)."""
    cfg = dict(nms_cfg)
    class_agnostic = cfg.pop('class_agnostic', class_agnostic)
    nms_type = cfg.pop('type', 'nms')
    if nms_type not in NMS_TYPES:
        raise ValueError(
            f'nms type {nms_type!r} is not supported (only '
            f'{NMS_TYPES}: mmcv.ops is not available)'
        )
    cfg.pop('split_thr', None)  # read by batched_nms
    if 'iou_thr' in cfg:  # the name before mmcv 1.0
        cfg.setdefault('iou_threshold', cfg.pop('iou_thr'))
    if 'iou_threshold' not in cfg:
        raise KeyError(f'nms_cfg needs iou_threshold, got {dict(nms_cfg)}')
    allowed = NMS_KEYS[nms_type]
    unknown = set(cfg) - allowed
    if unknown:
        raise KeyError(
            f'unknown {nms_type} nms_cfg keys {sorted(unknown)}; allowed: '
            f'{sorted(allowed | {"type", "class_agnostic", "split_thr"})}'
        )
    return class_agnostic, nms_type, cfg


def group_offsets(boxes, idxs, top=None):
    """(N,) shift of each box that keeps groups apart: ``idxs`` times one
    more than the largest coordinate, so that boxes of different groups
    never overlap and one NMS over all boxes is NMS within each group.

    This is mmcv's ``batched_nms`` (and the exported graph's): the IoUs are
    computed on the shifted float32 coordinates, whose rounding decides
    overlaps within ~1e-4 of the threshold, so the same shift is part of
    the result. ``top`` (a 0-d tensor) replaces ``boxes.max()``."""
    top = boxes.max() if top is None else top
    return idxs.to(boxes) * (top + 1)


def _nms_group_by_group(boxes, scores, idxs, iou_threshold):
    """Indices kept by NMS within each group, in descending score order
    (mmcv's path above ``split_thr`` boxes: less memory)."""
    kept = [
        group[tv_nms(boxes[group], scores[group], iou_threshold)]
        for group in (
            torch.nonzero(idxs == i, as_tuple=True)[0] for i in idxs.unique()
        )
    ]
    keep = torch.cat(kept)
    return keep[scores[keep].argsort(descending=True, stable=True)]


def batched_nms(boxes, scores, idxs, nms_cfg, class_agnostic=False):
    """NMS within each group (class, level, image...) independently.

    The interface of ``mmcv.ops.batched_nms``, computed with
    ``torchvision.ops.nms``.

    Args:
        boxes (Tensor): (N, 4) boxes.
        scores (Tensor): (N,) scores.
        idxs (Tensor): (N,) group of every box; boxes of different groups
            never suppress each other.
        nms_cfg (dict | None): ``type='nms'``, ``iou_threshold``, and
            optionally ``class_agnostic``, ``offset``, ``score_threshold``,
            ``max_num``, ``split_thr`` (default 10000: with fewer boxes one
            NMS over boxes shifted by :func:`group_offsets`, else one per
            group, as mmcv); or ``type='soft_nms'`` with the arguments of
            :func:`soft_nms` (the scores returned are then the decayed
            ones). None: no NMS, only sorting.
        class_agnostic (bool): ignore the groups (overridden by
            ``nms_cfg['class_agnostic']``).

    Returns:
        tuple: ``dets`` (K, 5) kept boxes with their scores, in descending
        score order, and ``keep`` (K,) their indices in the input.
    """
    if nms_cfg is None:
        scores, inds = scores.sort(descending=True)
        return torch.cat([boxes[inds], scores[:, None]], -1), inds

    class_agnostic, nms_type, cfg = _parse_nms_cfg(nms_cfg, class_agnostic)
    split_thr = dict(nms_cfg).get('split_thr', 10000)
    boxes_for_nms = boxes
    if not class_agnostic and boxes.numel() > 0:
        boxes_for_nms = boxes + group_offsets(boxes, idxs)[:, None]
    if nms_type == 'soft_nms':
        # shifted groups never overlap: one pass is per-group soft-NMS
        dets, keep = soft_nms(boxes_for_nms, scores, **cfg)
        return torch.cat([boxes[keep], dets[:, -1:]], -1), keep
    keep = torch.arange(boxes.size(0), device=boxes.device)
    score_threshold = cfg.get('score_threshold', 0)
    if score_threshold > 0:
        keep = keep[scores[keep] > score_threshold]
    boxes_for_nms = _offset_boxes(boxes_for_nms[keep], cfg.get('offset', 0))
    if class_agnostic or keep.numel() < split_thr:
        order = tv_nms(boxes_for_nms, scores[keep], cfg['iou_threshold'])
    else:
        order = _nms_group_by_group(
            boxes_for_nms, scores[keep], idxs[keep], cfg['iou_threshold']
        )
    keep = keep[order]
    max_num = cfg.get('max_num', -1)
    if max_num > 0:
        keep = keep[:max_num]
    return torch.cat([boxes[keep], scores[keep, None]], -1), keep


def multiclass_nms(
    multi_bboxes,
    multi_scores,
    score_thr,
    nms_cfg,
    max_num=-1,
    score_factors=None,
    return_inds=False,
):
    """NMS for multi-class detections: every class on its own.

    Args:
        multi_bboxes (Tensor): (N, 4) boxes shared by all classes, or
            (N, C * 4) one box per class.
        multi_scores (Tensor): (N, C + 1) scores, the background last.
        score_thr (float): (box, class) pairs with a score not above it
            are dropped, before ``score_factors`` are applied.
        nms_cfg (dict): see :func:`batched_nms`.
        max_num (int): keep at most this many detections (when > 0).
        score_factors (Tensor, optional): (N,) factors multiplied into the
            scores before NMS (e.g. centerness).
        return_inds (bool): also return the indices of the kept pairs.

    Returns:
        tuple: ``dets`` (k, 5) boxes and scores, descending; ``labels``
        (k,) classes in [0, C); with ``return_inds`` also ``inds`` (k,),
        indices into the flattened (N * C) pairs: box ``inds // C``, class
        ``inds % C``.
    """
    num_boxes = multi_scores.size(0)
    num_classes = multi_scores.size(1) - 1
    if multi_bboxes.size(0) != num_boxes:
        raise ValueError(
            f'{multi_bboxes.size(0)} boxes but {num_boxes} rows of scores'
        )
    if multi_bboxes.size(1) == 4:
        bboxes = multi_bboxes[:, None].expand(num_boxes, num_classes, 4)
    elif multi_bboxes.size(1) == num_classes * 4:
        bboxes = multi_bboxes.view(num_boxes, num_classes, 4)
    else:
        raise ValueError(
            f'multi_bboxes must be (N, 4) or (N, {num_classes}'
            f' * 4), got {tuple(multi_bboxes.shape)}'
        )
    scores = multi_scores[:, :-1]
    labels = torch.arange(num_classes, device=scores.device)
    labels = labels.view(1, -1).expand_as(scores)

    bboxes = bboxes.reshape(-1, 4)
    scores = scores.reshape(-1)
    labels = labels.reshape(-1)
    valid = scores > score_thr
    if score_factors is not None:
        factors = score_factors.view(-1, 1).expand(num_boxes, num_classes)
        scores = scores * factors.reshape(-1)
    inds = valid.nonzero(as_tuple=False).view(-1)
    bboxes, scores, labels = bboxes[inds], scores[inds], labels[inds]

    if bboxes.numel() == 0:
        dets = torch.cat([bboxes, scores[:, None]], -1)
    else:
        dets, keep = batched_nms(bboxes, scores, labels, nms_cfg)
        if max_num > 0:
            dets, keep = dets[:max_num], keep[:max_num]
        labels, inds = labels[keep], inds[keep]
    if return_inds:
        return dets, labels, inds
    return dets, labels


def fast_nms(
    multi_bboxes,
    multi_scores,
    multi_coeffs,
    score_thr,
    iou_thr,
    top_k,
    max_num=-1,
):
    """YOLACT's Fast NMS: per class keep the ``top_k`` best boxes, drop a box
    when any higher-scored box of its class overlaps it by more than
    ``iou_thr`` (even one dropped itself), and when its score is not above
    ``score_thr``.

    ``multi_bboxes`` (n, 4), ``multi_scores`` (n, C + 1) with background
    last, ``multi_coeffs`` (n, K). Returns ``(dets (m, 5), labels (m,),
    coeffs (m, K))`` sorted by score, at most ``max_num`` (if > 0).
    """
    scores, idx = multi_scores[:, :-1].t().sort(1, descending=True)
    idx, scores = idx[:, :top_k].contiguous(), scores[:, :top_k]
    num_classes, num_dets = idx.size()
    boxes = multi_bboxes[idx.view(-1)].view(num_classes, num_dets, 4)
    coeffs = multi_coeffs[idx.view(-1)].view(num_classes, num_dets, -1)
    iou = bbox_overlaps(boxes, boxes).triu_(diagonal=1)
    keep = (iou.max(dim=1)[0] <= iou_thr) & (scores > score_thr)
    classes = torch.arange(num_classes, device=boxes.device)[:, None]
    classes = classes.expand_as(keep)[keep]
    boxes, coeffs, scores = boxes[keep], coeffs[keep], scores[keep]
    scores, order = scores.sort(0, descending=True)
    if max_num > 0:
        order, scores = order[:max_num], scores[:max_num]
    dets = torch.cat([boxes[order], scores[:, None]], dim=1)
    return dets, classes[order], coeffs[order]
