"""PISA's two sample re-weightings (Cao et al., "Prime Sample Attention
in Object Detection", 2020): ISR-P for the classification weights of the
positives and the CARL box loss."""

import torch

from mmdet.core import bbox_overlaps
from mmdet.utils.arg_errors import InvalidArgumentError


def _positives(labels, num_class):
    """(P,) indices of the labels in [0, num_class)."""
    return ((labels >= 0) & (labels < num_class)).nonzero().reshape(-1)


def _pos_rows(pred, pos_inds, pos_labels):
    """The (P, 4) rows of ``pred`` (N, 4) or class-specific (N, C*4)."""
    if pred.size(-1) > 4:
        return pred.view(pred.size(0), -1, 4)[pos_inds, pos_labels]
    return pred[pos_inds].view(-1, 4)


def _image_gt_ids(sampling_results):
    """(P,) gt index of every positive, offset per image so that boxes of
    different images differ. The offset of an image is the previous
    image's largest index + 1 (not a running total, as in MMDetection:
    kept so the weights match its checkpoints' training)."""
    ids, offset = [], 0
    for result in sampling_results:
        gt_inds = result.pos_assigned_gt_inds
        ids.append(gt_inds + offset)
        if len(gt_inds) != 0:
            offset = gt_inds.max() + 1
    return torch.cat(ids)


def _rank(values):
    """(n,) position of each value in descending order (0 = largest)."""
    return values.sort(descending=True)[1].sort()[1].float()


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
    """Importance-based sample reweighting of the positives (ISR-P).

    Positives are ranked by the IoU of their decoded prediction with their
    target: first within their gt box, then (boxes' rankings interleaved:
    the best of every box before the second of any) within their class.
    A positive of rank r among n gets weight ``(bias + (1 - bias) * (n_max
    - r) / n_max) ** k`` (n_max: the largest class count), rescaled so
    that the positives' total classification loss is unchanged.

    Args:
        cls_score (Tensor): (N, C + 1) logits.
        bbox_pred (Tensor): (N, 4) or (N, C*4) deltas.
        bbox_targets (tuple[Tensor]): labels (N,), label_weights (N,),
            bbox_targets (N, 4), bbox_weights (N, 4).
        rois (Tensor): (N, 4) anchors or (N, 5) RoIs with batch index.
        sampling_results (list): per image; their positives in the order of
            the positives of ``labels``.
        loss_cls (nn.Module): classification loss (``reduction_override``).
        bbox_coder: decodes the deltas.
        k (float): power of the weights.
        bias (float): floor of the weights.
        num_class (int): classes (background excluded).

    Returns:
        tuple[Tensor]: the targets with the positives' label weights
        replaced.
    """
    labels, label_weights, bbox_targets, bbox_weights = bbox_targets
    pos_inds = _positives(labels, num_class)
    if pos_inds.numel() == 0:
        return labels, label_weights, bbox_targets, bbox_weights
    pos_labels = labels[pos_inds]
    gts = _image_gt_ids(sampling_results)
    if len(gts) != pos_inds.numel():
        raise InvalidArgumentError(
            f'{len(gts)} sampled positives for {pos_inds.numel()} labels'
        )
    cls_score, bbox_pred = cls_score.detach(), bbox_pred.detach()
    pos_rois = rois[pos_inds][:, -4:]
    pos_boxes = bbox_coder.decode(
        pos_rois, _pos_rows(bbox_pred, pos_inds, pos_labels)
    )
    target_boxes = bbox_coder.decode(pos_rois, bbox_targets[pos_inds])
    ious = bbox_overlaps(pos_boxes, target_boxes, is_aligned=True)

    weights = label_weights[pos_inds]  # a copy
    max_count = pos_labels.bincount().max()
    for label in pos_labels.unique():
        in_label = (pos_labels == label).nonzero().view(-1)
        label_gts = gts[in_label]
        for gt in label_gts.unique():
            in_gt = in_label[label_gts == gt]
            # lifts the k-th of every box above the (k+1)-th of any box
            ious[in_gt] += max_count - _rank(ious[in_gt])
        rank = _rank(ious[in_label])
        weights[in_label] *= (max_count - rank) / max_count
    weights = (bias + weights * (1 - bias)).pow(k)

    pos_loss = loss_cls(
        cls_score[pos_inds], pos_labels, reduction_override='none'
    )
    old_weights = label_weights[pos_inds]
    if pos_loss.dim() > 1:
        old_weights, new_weights = old_weights[:, None], weights[:, None]
    else:
        new_weights = weights
    ratio = (pos_loss * old_weights).sum() / (pos_loss * new_weights).sum()
    label_weights[pos_inds] = weights * ratio
    return labels, label_weights, bbox_targets, bbox_weights


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
    """Classification-aware regression loss (CARL): the box loss of every
    positive weighted by ``(bias + (1 - bias) * p) ** k``, ``p`` its
    predicted probability of its class (weights rescaled to mean 1), so
    that the box loss's gradient reaches the classifier.

    Args:
        cls_score (Tensor): (N, C + 1) (softmax) or (N, C) (sigmoid) logits.
        labels (Tensor): (N,) labels, ``num_class`` = background.
        bbox_pred (Tensor): (N, 4) or (N, C*4) deltas.
        bbox_targets (Tensor): (N, 4) targets.
        loss_bbox (nn.Module): element-wise box loss
            (``reduction_override``).
        avg_factor (float, optional): divisor; N by default.

    Returns:
        dict[str, Tensor]: ``loss_carl`` of shape (1,).
    """
    pos_inds = _positives(labels, num_class)
    if pos_inds.numel() == 0:
        return dict(loss_carl=cls_score.sum()[None] * 0.0)
    pos_labels = labels[pos_inds]
    probs = cls_score.sigmoid() if sigmoid else cls_score.softmax(-1)
    pos_probs = probs[pos_inds, pos_labels]
    weights = (bias + (1 - bias) * pos_probs).pow(k)
    weights = weights * (pos_probs.size(0) / weights.sum())
    if avg_factor is None:
        avg_factor = bbox_targets.size(0)
    loss = loss_bbox(
        _pos_rows(bbox_pred, pos_inds, pos_labels),
        bbox_targets[pos_inds],
        reduction_override='none',
    )
    loss_carl = (loss / avg_factor * weights[:, None]).sum()
    return dict(loss_carl=loss_carl[None])
