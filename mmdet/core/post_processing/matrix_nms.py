"""Matrix NMS of SOLOv2: scores decay by the IoU with every higher-scored mask
of the same class, computed in one matrix step (no sequential suppression).

It traces into ONNX as it is: the early returns on an empty set are eager
only (the graph's operators take empty tensors), and the top-k cuts keep a
traced count (``sort_descending``).
"""

import torch

from mmdet.utils.arg_errors import InvalidArgumentError
from ..utils.misc import sort_descending


def _empty(masks, labels, scores):
    return (
        scores.new_zeros(0),
        labels.new_zeros(0),
        masks.new_zeros(0, *masks.shape[-2:]),
        labels.new_zeros(0),
    )


def _decay(iou, same_label, kernel, sigma):
    """Per-mask decay factor (n,) from the upper-triangular IoU (n, n)."""
    decay_iou = iou * same_label
    # the largest IoU each suppressor itself suffered, per row
    comp = decay_iou.amax(0).expand_as(decay_iou).t()
    if kernel == 'gaussian':
        ratio = torch.exp(-sigma * decay_iou**2) / torch.exp(-sigma * comp**2)
    elif kernel == 'linear':
        ratio = (1 - decay_iou) / (1 - comp)
    else:
        raise NotImplementedError(
            f'{kernel} kernel is not supported in matrix nms!'
        )
    return ratio.amin(0)


def mask_matrix_nms(
    masks,
    labels,
    scores,
    filter_thr=-1,
    nms_pre=-1,
    max_num=-1,
    kernel='gaussian',
    sigma=2.0,
    mask_area=None,
):
    """Matrix NMS of ``masks`` (n, h, w) binary, ``labels`` (n,), ``scores``
    (n,); ``mask_area`` (n,) pixel counts if known.

    ``nms_pre`` / ``max_num`` keep the top masks before / after the decay,
    ``filter_thr`` drops decayed scores below it (values <= 0 disable each).
    Returns ``(scores, labels, masks, keep_inds)`` sorted by decayed score,
    ``keep_inds`` indexing the input.
    """
    if not len(labels) == len(masks) == len(scores):
        raise InvalidArgumentError(
            'mask_matrix_nms: masks, labels and scores differ in length'
        )
    eager = not torch.onnx.is_in_onnx_export()
    if eager and len(labels) == 0:
        return _empty(masks, labels, scores)
    if mask_area is None:
        mask_area = masks.sum((1, 2)).float()
    elif len(mask_area) != len(masks):
        raise InvalidArgumentError('mask_matrix_nms: mask_area length')
    scores, keep_inds = sort_descending(scores, nms_pre)
    masks = masks[keep_inds]
    labels, mask_area = labels[keep_inds], mask_area[keep_inds]
    flat = masks.flatten(1).float()
    inter = flat @ flat.t()
    area = mask_area[None].expand_as(inter)
    iou = (inter / (area + area.t() - inter)).triu(diagonal=1)
    same_label = (labels[None] == labels[:, None]).triu(diagonal=1)
    scores = scores * _decay(iou, same_label, kernel, sigma)
    if filter_thr > 0:
        keep = scores >= filter_thr
        if eager and not keep.any():
            return _empty(masks, labels, scores)
        keep_inds, masks = keep_inds[keep], masks[keep]
        scores, labels = scores[keep], labels[keep]
    scores, order = sort_descending(scores, max_num)
    return scores, labels[order], masks[order], keep_inds[order]
