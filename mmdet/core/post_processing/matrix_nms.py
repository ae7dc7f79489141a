"""Matrix NMS of SOLOv2: scores decay by the IoU with every higher-scored mask
of the same class, computed in one matrix step (no sequential suppression)."""

import torch

from mmdet.utils.arg_errors import InvalidArgumentError


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
    comp = decay_iou.max(0)[0].expand_as(decay_iou).t()
    if kernel == 'gaussian':
        ratio = torch.exp(-sigma * decay_iou**2) / torch.exp(-sigma * comp**2)
    elif kernel == 'linear':
        ratio = (1 - decay_iou) / (1 - comp)
    else:
        raise NotImplementedError(
            f'{kernel} kernel is not supported in matrix nms!'
        )
    return ratio.min(0)[0]


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
    if len(labels) == 0:
        return _empty(masks, labels, scores)
    if mask_area is None:
        mask_area = masks.sum((1, 2)).float()
    elif len(mask_area) != len(masks):
        raise InvalidArgumentError('mask_matrix_nms: mask_area length')
    scores, order = torch.sort(scores, descending=True)
    if 0 < nms_pre < len(order):
        order, scores = order[:nms_pre], scores[:nms_pre]
    keep_inds = order
    masks, labels, mask_area = masks[order], labels[order], mask_area[order]
    n = len(labels)
    flat = masks.reshape(n, -1).float()
    inter = flat @ flat.t()
    area = mask_area.expand(n, n)
    iou = (inter / (area + area.t() - inter)).triu(diagonal=1)
    lab = labels.expand(n, n)
    same_label = (lab == lab.t()).triu(diagonal=1)
    scores = scores * _decay(iou, same_label, kernel, sigma)
    if filter_thr > 0:
        keep = scores >= filter_thr
        if not keep.any():
            return _empty(masks, labels, scores)
        keep_inds, masks = keep_inds[keep], masks[keep]
        scores, labels = scores[keep], labels[keep]
    scores, order = torch.sort(scores, descending=True)
    if 0 < max_num < len(order):
        order, scores = order[:max_num], scores[:max_num]
    return scores, labels[order], masks[order], keep_inds[order]
