"""One-to-one (Hungarian) matching of mask queries to gt masks."""

import numpy as np
import torch

from mmdet.utils.arg_errors import InvalidArgumentError
from ..builder import BBOX_ASSIGNERS
from ..match_costs import build_match_cost
from .assign_result import AssignResult
from .base_assigner import BaseAssigner


@BBOX_ASSIGNERS.register_module()
class MaskHungarianAssigner(BaseAssigner):
    """Match queries to gt masks by the minimum total of ``cls_cost`` (on
    the class logits), ``mask_cost`` and ``dice_cost`` (on the mask logits).

    A cost whose ``weight`` is 0 is skipped. Matched queries get their gt
    (1-based) and its label, the others 0 (background) and label -1.
    """

    def __init__(
        self,
        cls_cost=dict(type='ClassificationCost', weight=1.0),
        mask_cost=dict(type='FocalLossCost', weight=1.0, binary_input=True),
        dice_cost=dict(type='DiceCost', weight=1.0),
    ):
        self.cls_cost = build_match_cost(cls_cost)
        self.mask_cost = build_match_cost(mask_cost)
        self.dice_cost = build_match_cost(dice_cost)

    def assign(
        self,
        cls_pred,
        mask_pred,
        gt_labels,
        gt_mask,
        img_meta,
        gt_bboxes_ignore=None,
        eps=1e-7,
    ):
        """Assign N queries ((N, C) logits, (N, H, W) or (N, P) mask logits)
        to M gts ((M,) labels, (M, H, W) or (M, P) binary masks)."""
        if gt_bboxes_ignore is not None:
            raise InvalidArgumentError(
                'MaskHungarianAssigner: gt_bboxes_ignore is not supported'
            )
        num_gts, num_queries = gt_labels.shape[0], cls_pred.shape[0]
        gt_inds = cls_pred.new_full((num_queries,), -1, dtype=torch.long)
        labels = cls_pred.new_full((num_queries,), -1, dtype=torch.long)
        if num_gts == 0 or num_queries == 0:
            if num_gts == 0:
                gt_inds[:] = 0
            return AssignResult(num_gts, gt_inds, None, labels=labels)
        cost = self._cost(cls_pred, mask_pred, gt_labels, gt_mask)
        # imported here: importing scipy adds warning filters, which
        # importing mmdet must not do
        from scipy.optimize import linear_sum_assignment

        cost = cost.detach().cpu().numpy().astype(np.float64)
        rows, cols = linear_sum_assignment(cost)
        rows = torch.from_numpy(np.asarray(rows)).to(cls_pred.device)
        cols = torch.from_numpy(np.asarray(cols)).to(cls_pred.device)
        gt_inds[:] = 0
        gt_inds[rows] = cols + 1
        labels[rows] = gt_labels[cols]
        return AssignResult(num_gts, gt_inds, None, labels=labels)

    def _cost(self, cls_pred, mask_pred, gt_labels, gt_mask):
        """(N, M) sum of the costs with a non-zero weight."""
        parts = [
            (self.cls_cost, cls_pred, gt_labels),
            (self.mask_cost, mask_pred, gt_mask),
            (self.dice_cost, mask_pred, gt_mask),
        ]
        return sum(cost(pred, gt) for cost, pred, gt in parts if cost.weight)
