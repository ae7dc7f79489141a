"""One-to-one (Hungarian) matching of predictions to ground truths."""

import numpy as np
import torch

from mmdet.utils.arg_errors import InvalidArgumentError
from ..builder import BBOX_ASSIGNERS
from ..match_costs import build_match_cost
from ..transforms import bbox_cxcywh_to_xyxy
from .assign_result import AssignResult
from .base_assigner import BaseAssigner


def _min_cost_matching(cost):
    """Minimum-cost assignment of a (R, C) float64 array with R <= C.

    Shortest augmenting paths with potentials (O(R^2 C)); used only when
    scipy is missing. Returns the column matched to each row.
    """
    rows, cols = cost.shape
    u = np.zeros(rows + 1)
    v = np.zeros(cols + 1)
    owner = np.zeros(cols + 1, dtype=np.int64)  # row (1-based) per column
    way = np.zeros(cols + 1, dtype=np.int64)
    for row in range(1, rows + 1):
        owner[0] = row
        col0 = 0
        minv = np.full(cols + 1, np.inf)
        used = np.zeros(cols + 1, dtype=bool)
        while owner[col0] != 0:
            used[col0] = True
            r0 = owner[col0]
            free = ~used[1:]
            reduced = cost[r0 - 1] - u[r0] - v[1:]
            better = free & (reduced < minv[1:])
            minv[1:][better] = reduced[better]
            way[1:][better] = col0
            masked = np.where(free, minv[1:], np.inf)
            col1 = int(np.argmin(masked)) + 1
            delta = masked[col1 - 1]
            u[owner[used]] += delta
            v[used] -= delta
            minv[1:][free] -= delta
            col0 = col1
        while col0 != 0:
            prev = way[col0]
            owner[col0] = owner[prev]
            col0 = prev
    match = np.empty(rows, dtype=np.int64)
    for col in range(1, cols + 1):
        if owner[col]:
            match[owner[col] - 1] = col - 1
    return match


def linear_sum_assignment(cost):
    """scipy's ``linear_sum_assignment`` (row indices sorted, column
    indices), with an in-tree fallback when scipy is not installed."""
    try:
        from scipy.optimize import linear_sum_assignment as scipy_lsa
    except ImportError:
        scipy_lsa = None
    cost = np.asarray(cost, dtype=np.float64)
    if scipy_lsa is not None:
        return scipy_lsa(cost)
    if cost.shape[0] <= cost.shape[1]:
        return np.arange(cost.shape[0]), _min_cost_matching(cost)
    cols_of_rows = _min_cost_matching(cost.T)  # row matched to each column
    order = np.argsort(cols_of_rows)
    return cols_of_rows[order], order


@BBOX_ASSIGNERS.register_module()
class HungarianAssigner(BaseAssigner):
    """Match predictions to gts one-to-one by the minimum total cost.

    The cost of a (prediction, gt) pair is ``cls_cost`` (on the class
    logits) + ``reg_cost`` (on the normalized ``cx, cy, w, h`` box against
    the gt normalized by the image size) + ``iou_cost`` (on both boxes in
    pixels). Matched predictions get their gt (1-based) and its label,
    all others 0 (background) and label -1.
    """

    def __init__(
        self,
        cls_cost=dict(type='ClassificationCost', weight=1.0),
        reg_cost=dict(type='BBoxL1Cost', weight=1.0),
        iou_cost=dict(type='IoUCost', iou_mode='giou', weight=1.0),
    ):
        self.cls_cost = build_match_cost(cls_cost)
        self.reg_cost = build_match_cost(reg_cost)
        self.iou_cost = build_match_cost(iou_cost)

    def assign(
        self,
        bbox_pred,
        cls_pred,
        gt_bboxes,
        gt_labels,
        img_meta,
        gt_bboxes_ignore=None,
        eps=1e-7,
    ):
        """Assign (N, 4) normalized ``cx, cy, w, h`` boxes with (N, C)
        logits to (M, 4) pixel gt boxes with (M,) labels."""
        if gt_bboxes_ignore is not None:
            raise InvalidArgumentError(
                'HungarianAssigner: gt_bboxes_ignore is not supported'
            )
        num_gts, num_bboxes = gt_bboxes.size(0), bbox_pred.size(0)
        gt_inds = bbox_pred.new_full((num_bboxes,), -1, dtype=torch.long)
        labels = bbox_pred.new_full((num_bboxes,), -1, dtype=torch.long)
        if num_gts == 0 or num_bboxes == 0:
            if num_gts == 0:
                gt_inds[:] = 0
            return AssignResult(num_gts, gt_inds, None, labels=labels)
        cost = self._cost(bbox_pred, cls_pred, gt_bboxes, gt_labels, img_meta)
        rows, cols = linear_sum_assignment(cost.detach().cpu().numpy())
        rows = torch.from_numpy(np.asarray(rows)).to(bbox_pred.device)
        cols = torch.from_numpy(np.asarray(cols)).to(bbox_pred.device)
        gt_inds[:] = 0
        gt_inds[rows] = cols + 1
        labels[rows] = gt_labels[cols]
        return AssignResult(num_gts, gt_inds, None, labels=labels)

    def _cost(self, bbox_pred, cls_pred, gt_bboxes, gt_labels, img_meta):
        """(N, M) weighted sum of the three costs."""
        img_h, img_w = img_meta['img_shape'][:2]
        factor = gt_bboxes.new_tensor([img_w, img_h, img_w, img_h])[None]
        cls_cost = self.cls_cost(cls_pred, gt_labels)
        reg_cost = self.reg_cost(bbox_pred, gt_bboxes / factor)
        pixel_boxes = bbox_cxcywh_to_xyxy(bbox_pred) * factor
        iou_cost = self.iou_cost(pixel_boxes, gt_bboxes)
        return cls_cost + reg_cost + iou_cost
