"""PISA's prime-sample weighting (Cao et al., 2020): importance-based
sample reweighting of the positives (ISR-P) and the classification-aware
regression loss (CARL)."""

import torch

from mmdet.core import bbox_overlaps


def _pos_gt_ids(sampling_results):
    """(P,) gt ids of the positives of all images, images told apart by an
    offset of the previous image's largest id + 1 (MMDetection's
    numbering: not cumulative over more than two images)."""
    ids, offset = [], 0
    for result in sampling_results:
        gt_i = result.pos_assigned_gt_inds
        ids.append(gt_i + offset)
        if len(gt_i) != 0:
            offset = gt_i.max() + 1
    return torch.cat(ids)


def _rank_desc(values):
    """(n,) rank of each value in descending order (0 = largest)."""
    return values.sort(descending=True).indices.sort().indices.float()


def _hlr_weights(ious, labels, gts):
    """IoU-HLR: per class, positives ranked by IoU first within their gt,
    then across gts; weight ``(max_per_class - rank) / max_per_class``."""
    weights = ious.new_ones(ious.size(0))
    max_num = labels.bincount().max()
    ious = ious.clone()
    for label in labels.unique():
        l_inds = (labels == label).nonzero().view(-1)
        l_gts = gts[l_inds]
        for gt in l_gts.unique():
            t_inds = l_inds[l_gts == gt]
            ious[t_inds] += max_num - _rank_desc(ious[t_inds])
        weights[l_inds] = (max_num - _rank_desc(ious[l_inds])) / max_num
    return weights


def isr_p(
    cls_score,
    bbox_pred,
    bbox_targets,
    rois,
    sampling_results,
    loss_cls,
    bbox_coder,
    k=2,
    bias=0,
    num_class=80,
):
    """Importance-based sample reweighting of the positives.

    Each positive's classification weight becomes ``(bias + (1 - bias) *
    w * hlr) ** k`` (``w`` its weight, ``hlr`` its IoU-HLR weight from the
    IoU of its decoded prediction with its target box), rescaled so that
    the positives' classification loss keeps its sum.

    Args:
        cls_score (Tensor): (n, C[+1]) logits.
        bbox_pred (Tensor): (n, 4) or (n, 4 * C) deltas.
        bbox_targets (tuple): ``(labels, label_weights, bbox_targets,
            bbox_weights)`` of the n samples.
        rois (Tensor): (n, 4) boxes or (n, 5) RoIs.
        sampling_results (list[SamplingResult]): per image, positives
            first, in the order of the samples.
        loss_cls (nn.Module): the classification loss.
        bbox_coder: the deltas' coder.
        k (float): power; bias (float): weight floor.
        num_class (int): classes (labels >= it are background).

    Returns:
        tuple: ``bbox_targets`` with the new label weights.
    """
    labels, label_weights, box_targets, bbox_weights = bbox_targets
    pos = ((labels >= 0) & (labels < num_class)).nonzero().reshape(-1)
    if pos.numel() == 0:
        return labels, label_weights, box_targets, bbox_weights
    pos_labels = labels[pos]
    gts = _pos_gt_ids(sampling_results)
    if len(gts) != pos.numel():
        raise ValueError(
            f'{pos.numel()} positive labels but {len(gts)} sampled positives'
        )
    cls_score, bbox_pred = cls_score.detach(), bbox_pred.detach()
    pos_rois = rois[pos][:, -4:]
    if bbox_pred.size(-1) > 4:
        deltas = bbox_pred.view(bbox_pred.size(0), -1, 4)[pos, pos_labels]
    else:
        deltas = bbox_pred[pos].view(-1, 4)
    pred = bbox_coder.decode(pos_rois, deltas)
    target = bbox_coder.decode(pos_rois, box_targets[pos].view(-1, 4))
    ious = bbox_overlaps(pred, target, is_aligned=True)
    weights = label_weights[pos] * _hlr_weights(ious, pos_labels, gts)
    weights = (bias + weights * (1 - bias)).pow(k)
    pos_loss = loss_cls(cls_score[pos], pos_labels, reduction_override='none')
    old_w, new_w = label_weights[pos], weights
    if pos_loss.dim() > 1:
        old_w, new_w = old_w[:, None], new_w[:, None]
    ratio = (pos_loss * old_w).sum() / (pos_loss * new_w).sum()
    label_weights[pos] = weights * ratio
    return labels, label_weights, box_targets, bbox_weights


def carl_loss(
    cls_score,
    labels,
    bbox_pred,
    bbox_targets,
    loss_bbox,
    k=1,
    bias=0.2,
    avg_factor=None,
    sigmoid=False,
    num_class=80,
):
    """Classification-aware regression loss: the positives' regression
    loss (per element, averaged by ``avg_factor``) weighted by ``(bias +
    (1 - bias) * p) ** k`` of their class probability ``p`` (weights
    normalised to mean 1, gradient flowing into the scores).

    Returns:
        dict: ``loss_carl`` (1,).
    """
    pos = ((labels >= 0) & (labels < num_class)).nonzero().reshape(-1)
    if pos.numel() == 0:
        return dict(loss_carl=cls_score.sum()[None] * 0.0)
    pos_labels = labels[pos]
    probs = cls_score.sigmoid() if sigmoid else cls_score.softmax(-1)
    weights = (bias + (1 - bias) * probs[pos, pos_labels]).pow(k)
    weights = weights * (float(pos.numel()) / weights.sum())
    if avg_factor is None:
        avg_factor = bbox_targets.size(0)
    if bbox_pred.size(-1) > 4:
        pos_preds = bbox_pred.view(bbox_pred.size(0), -1, 4)[pos, pos_labels]
    else:
        pos_preds = bbox_pred[pos]
    loss = (
        loss_bbox(pos_preds, bbox_targets[pos], reduction_override='none')
        / avg_factor
    )
    return dict(loss_carl=(loss * weights[:, None]).sum()[None])
