"""Pairwise IoU / IoF of boxes held in numpy arrays (the evaluation
counterpart of the torch ``mmdet.core.bbox.bbox_overlaps``)."""

import numpy as np

# pairs computed at once; larger inputs are done in blocks of rows
_BLOCK_PAIRS = 1 << 22


def _as_boxes(boxes, dtype):
    """(n, 4+) ``dtype`` array of ``boxes``; an empty input is (0, 4)."""
    boxes = np.asarray(boxes, dtype=dtype)
    return boxes.reshape(0, 4) if boxes.size == 0 else boxes


def box_areas(boxes, extra=0):
    """Areas (n,) in pixels^2 of (n, 4+) [x1, y1, x2, y2, ...] boxes;
    ``extra`` (0 or 1) is added to widths and heights."""
    return (boxes[:, 2] - boxes[:, 0] + extra) * (
        boxes[:, 3] - boxes[:, 1] + extra
    )


def _intersections(boxes1, boxes2, extra):
    """Intersection areas (n, k) of (n, 4) and (k, 4) boxes."""
    lt = np.maximum(boxes1[:, None, :2], boxes2[None, :, :2])
    rb = np.minimum(boxes1[:, None, 2:4], boxes2[None, :, 2:4])
    wh = np.maximum(rb - lt + extra, 0)
    return wh[..., 0] * wh[..., 1]


def _pairwise_overlaps(bboxes1, bboxes2, mode, eps, legacy, dtype):
    """``bbox_overlaps`` computed in ``dtype`` (float32 or float64);
    returns (n, k) overlaps of that dtype."""
    if mode not in ('iou', 'iof'):
        raise ValueError(f"mode must be 'iou' or 'iof', got {mode!r}")
    extra = dtype(1.0 if legacy else 0.0)
    boxes1, boxes2 = _as_boxes(bboxes1, dtype), _as_boxes(bboxes2, dtype)
    ious = np.zeros((len(boxes1), len(boxes2)), dtype=dtype)
    if ious.size == 0:
        return ious
    area1 = box_areas(boxes1, extra)
    area2 = box_areas(boxes2, extra)
    step = max(1, _BLOCK_PAIRS // len(boxes2))
    for start in range(0, len(boxes1), step):
        rows = slice(start, start + step)
        overlap = _intersections(boxes1[rows], boxes2, extra)
        if mode == 'iou':
            denom = area1[rows, None] + area2[None, :] - overlap
        else:
            denom = np.broadcast_to(area1[rows, None], overlap.shape)
        ious[rows] = overlap / np.maximum(denom, dtype(eps))
    return ious


def bbox_overlaps(
    bboxes1, bboxes2, mode='iou', eps=1e-6, use_legacy_coordinate=False
):
    """IoU (or IoF) of every box in ``bboxes1`` with every box in
    ``bboxes2``, computed in float32.

    Args:
        bboxes1 (ndarray): (n, 4) [x1, y1, x2, y2] boxes in pixels (extra
            columns are ignored).
        bboxes2 (ndarray): (k, 4) boxes.
        mode (str): 'iou' (intersection over union) or 'iof' (intersection
            over the area of the ``bboxes1`` box).
        eps (float): lower bound of the denominator.
        use_legacy_coordinate (bool): MMDetection 1.x boxes, whose width
            and height are ``x2 - x1 + 1`` and ``y2 - y1 + 1`` (the PASCAL
            VOC devkit's convention).

    Returns:
        ndarray: (n, k) float32 overlaps.
    """
    return _pairwise_overlaps(
        bboxes1, bboxes2, mode, eps, use_legacy_coordinate, np.float32
    )
