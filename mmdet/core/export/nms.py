"""The class-wise (or level-wise) NMS of an exported graph: ONNX's
``NonMaxSuppression`` over boxes shifted by group, as mmcv's ``batched_nms``
shifts them, so that both runtimes suppress within groups only and round
the IoUs alike."""

import torch

from ..post_processing.bbox_nms import group_offsets
from .ops import onnx_nms, topk_at_most

# NonMaxSuppression's score threshold that every score passes (scores are
# probabilities; score_thr is applied before)
ANY_SCORE = -1.0


def shift_by_group(boxes, groups):
    """(N, 4) ``boxes`` shifted by ``groups * (max coordinate + 1)``. The
    max includes 0, so that an empty set gives an empty graph result
    instead of an error; boxes are clipped to the image, so 0 changes
    nothing."""
    top = torch.cat([boxes.flatten(), boxes.new_zeros(1)]).max()
    return boxes + group_offsets(boxes, groups, top)[:, None]


def nms_iou(nms_cfg, where):
    """IoU threshold of an ``nms`` config, refusing what the graph does not
    implement (``where`` names the config entry in the error)."""
    cfg = dict(nms_cfg)
    if cfg.pop('type', 'nms') != 'nms':
        raise ValueError(
            f'{where}: only nms type "nms" exports to ONNX, '
            f'got {dict(nms_cfg)}'
        )
    cfg.pop('split_thr', None)
    iou = cfg.pop('iou_threshold', cfg.pop('iou_thr', None))
    if iou is None:
        raise KeyError(f'{where}: nms needs iou_threshold')
    if cfg.pop('offset', 0) != 0 or cfg:
        raise ValueError(
            f'{where}: nms options {sorted(cfg)} (and '
            'offset=1) do not export; remove them'
        )
    return float(iou)


def grouped_nms(boxes, scores, groups, iou, max_num):
    """Indices of the boxes that survive NMS within their group, the
    ``max_num`` best first (``max_num <= 0``: all).

    Args:
        boxes (Tensor): (N, 4); scores (Tensor): (N,); groups (Tensor):
            (N,) int64 class or level of each box.

    Returns:
        tuple[Tensor]: (k,) scores descending and (k,) indices into boxes.
    """
    selected = onnx_nms(
        shift_by_group(boxes, groups)[None], scores[None, None], iou, ANY_SCORE
    )[:, 2]
    kept_scores, order = topk_at_most(scores[selected], max_num)
    return kept_scores, selected[order]


def class_wise_dets(boxes, scores, labels, iou, max_per_img):
    """Class-wise NMS, then the ``max_per_img`` best: ``(dets (n, 5),
    labels (n,))`` as a detector's ``get_bboxes`` gives them."""
    det_scores, kept = grouped_nms(boxes, scores, labels, iou, max_per_img)
    return torch.cat([boxes[kept], det_scores[:, None]], dim=1), labels[kept]
