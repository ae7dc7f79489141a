"""SimOTA dynamic-k assignment (Ge et al., YOLOX, 2021)."""

import torch
import torch.nn.functional as F

from ..builder import BBOX_ASSIGNERS
from ..iou_calculators import bbox_overlaps
from ._common import empty_result, inside_margin
from .assign_result import AssignResult
from .base_assigner import BaseAssigner

INF = 100000.0


@BBOX_ASSIGNERS.register_module()
class SimOTAAssigner(BaseAssigner):
    """Priors inside a gt box or within ``center_radius`` strides of its
    center are candidates; each gt takes the ``k`` cheapest (class BCE
    plus ``-log IoU``), ``k`` the summed IoU of its ``candidate_topk``
    best-overlapping candidates; a prior taken twice keeps its cheapest gt.

    Args:
        center_radius (float): half-size, in strides, of the center region.
        candidate_topk (int): candidates whose IoUs set ``k``.
        iou_weight (float): weight of the IoU cost.
        cls_weight (float): weight of the classification cost.
    """

    def __init__(
        self,
        center_radius=2.5,
        candidate_topk=10,
        iou_weight=3.0,
        cls_weight=1.0,
    ):
        self.center_radius = center_radius
        self.candidate_topk = candidate_topk
        self.iou_weight = iou_weight
        self.cls_weight = cls_weight

    def assign(
        self,
        pred_scores,
        priors,
        decoded_bboxes,
        gt_bboxes,
        gt_labels,
        gt_bboxes_ignore=None,
        eps=1e-7,
    ):
        """Assign N priors (N, 4) ``cx, cy, stride_x, stride_y`` with class
        probabilities (N, C) and boxes (N, 4) to gt boxes (G, 4) and labels
        (G,). ``max_overlaps`` is the matched IoU, -1e5 for unmatched."""
        num_gt, num_bboxes = gt_bboxes.size(0), decoded_bboxes.size(0)
        valid, in_both = self.get_in_gt_and_in_center_info(priors, gt_bboxes)
        num_valid = int(valid.sum())
        if num_gt == 0 or num_bboxes == 0 or num_valid == 0:
            return empty_result(num_gt, num_bboxes, decoded_bboxes, gt_labels)
        ious = bbox_overlaps(decoded_bboxes[valid], gt_bboxes)
        cost = self._cost(pred_scores[valid], ious, gt_labels, in_both, eps)
        matched_ious, matched_gt, fg = self.dynamic_k_matching(cost, ious)
        index = torch.nonzero(valid).squeeze(1)[fg]
        gt_inds = decoded_bboxes.new_zeros((num_bboxes,), dtype=torch.long)
        gt_inds[index] = matched_gt + 1
        labels = gt_inds.new_full((num_bboxes,), -1)
        labels[index] = gt_labels[matched_gt].long()
        max_overlaps = decoded_bboxes.new_full(
            (num_bboxes,), -INF, dtype=torch.float32
        )
        max_overlaps[index] = matched_ious
        return AssignResult(num_gt, gt_inds, max_overlaps, labels=labels)

    def _cost(self, scores, ious, gt_labels, in_both, eps):
        """(V, G) matching cost of V candidate priors; priors outside the
        gt box or its center region cost INF more."""
        num_valid, num_gt = ious.shape
        onehot = F.one_hot(gt_labels.long(), scores.shape[-1]).float()
        probs = scores.float().sqrt()[:, None].expand(-1, num_gt, -1)
        cls_cost = F.binary_cross_entropy(
            probs, onehot[None].expand(num_valid, -1, -1), reduction='none'
        )
        cls_cost = cls_cost.sum(-1).to(scores.dtype)
        iou_cost = -torch.log(ious + eps)
        return (
            cls_cost * self.cls_weight
            + iou_cost * self.iou_weight
            + (~in_both) * INF
        )

    def get_in_gt_and_in_center_info(self, priors, gt_bboxes):
        """(N,) priors inside any gt box or center region, and (V, G) for
        those V priors: inside both the gt box and its center region."""
        xy, stride = priors[:, :2], priors[:, 2:4]
        in_gts = inside_margin(xy, gt_bboxes) > 0
        gt_centers = (gt_bboxes[:, :2] + gt_bboxes[:, 2:]) / 2.0
        half = self.center_radius * stride[:, None]
        offset = (xy[:, None] - gt_centers[None]).abs()
        in_centers = (offset < half).all(dim=-1)
        valid = in_gts.any(dim=1) | in_centers.any(dim=1)
        return valid, in_gts[valid] & in_centers[valid]

    def dynamic_k_matching(self, cost, pairwise_ious):
        """Matched IoUs (M,), matched gt indices (M,) and the (V,) mask of
        the M matched candidates."""
        matching = torch.zeros_like(cost, dtype=torch.uint8)
        topk = min(self.candidate_topk, pairwise_ious.size(0))
        top_ious, _ = torch.topk(pairwise_ious, topk, dim=0)
        dynamic_ks = torch.clamp(top_ious.sum(0).int(), min=1)
        for gt_idx in range(cost.size(1)):
            _, pos = torch.topk(
                cost[:, gt_idx], k=int(dynamic_ks[gt_idx]), largest=False
            )
            matching[pos, gt_idx] = 1
        shared = matching.sum(1) > 1
        if shared.any():
            cheapest = cost[shared].argmin(dim=1)
            matching[shared] = 0
            matching[shared, cheapest] = 1
        fg = matching.sum(1) > 0
        matched_gt = matching[fg].argmax(1)
        matched_ious = (matching * pairwise_ious).sum(1)[fg]
        return matched_ious, matched_gt, fg
