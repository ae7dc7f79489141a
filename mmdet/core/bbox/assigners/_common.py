"""Small pieces the assigners share."""

import torch

from .assign_result import AssignResult


def labels_of(gt_inds, gt_labels):
    """Labels (N,) of assigned predictions: the gt's label where
    ``gt_inds > 0``, else -1; None without ``gt_labels``."""
    if gt_labels is None:
        return None
    labels = gt_inds.new_full(gt_inds.shape, -1)
    pos = gt_inds > 0
    labels[pos] = gt_labels[gt_inds[pos] - 1].long()
    return labels


def empty_result(num_gts, num_preds, like, gt_labels, max_overlaps=0.0):
    """Everything background (gt index 0, label -1); ``max_overlaps`` a
    fill value or None."""
    gt_inds = like.new_zeros((num_preds,), dtype=torch.long)
    overlaps = (
        None
        if max_overlaps is None
        else like.new_full((num_preds,), max_overlaps)
    )
    labels = (
        None
        if gt_labels is None
        else like.new_full((num_preds,), -1, dtype=torch.long)
    )
    return AssignResult(num_gts, gt_inds, overlaps, labels=labels)


def inside_margin(points, gt_bboxes):
    """(N, G) smallest distance from each point (N, 2) to the sides of each
    gt box (G, 4); positive inside the box."""
    x, y = points[:, :1], points[:, 1:2]
    sides = torch.stack(
        [
            x - gt_bboxes[:, 0],
            y - gt_bboxes[:, 1],
            gt_bboxes[:, 2] - x,
            gt_bboxes[:, 3] - y,
        ],
        dim=-1,
    )
    return sides.min(dim=-1).values
