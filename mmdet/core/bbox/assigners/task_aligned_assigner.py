"""Task-aligned assignment (Feng et al., TOOD, 2021)."""

import torch

from mmdet.utils.arg_errors import InvalidArgumentError
from ..builder import BBOX_ASSIGNERS
from ..iou_calculators import build_iou_calculator
from ._common import empty_result, inside_margin, labels_of
from .assign_result import AssignResult
from .base_assigner import BaseAssigner

INF = 100000000


@BBOX_ASSIGNERS.register_module()
class TaskAlignedAssigner(BaseAssigner):
    """Each gt takes the ``topk`` predictions of highest alignment metric
    ``score**alpha * IoU**beta`` whose anchor center lies inside it; a
    prediction claimed by several gts goes to the one it overlaps most.

    Args:
        topk (int): candidates per gt, >= 1.
        iou_calculator (dict): config of the IoU calculator.
    """

    def __init__(self, topk, iou_calculator=dict(type='BboxOverlaps2D')):
        if topk < 1:
            raise InvalidArgumentError(f'topk must be >= 1, got {topk}')
        self.topk = topk
        self.iou_calculator = build_iou_calculator(iou_calculator)

    def assign(
        self,
        pred_scores,
        decode_bboxes,
        anchors,
        gt_bboxes,
        gt_bboxes_ignore=None,
        gt_labels=None,
        alpha=1,
        beta=6,
    ):
        """Assign N predictions (scores (N, C), boxes (N, 4), anchors
        (N, 4+)) to G gt boxes (G, 4) with labels (G,). The result carries
        ``assign_metrics`` (N,), the metric of each positive (0 else);
        ``max_overlaps`` is the IoU of positives, -1e8 for the rest."""
        anchors = anchors[:, :4]
        num_gt, num_bboxes = gt_bboxes.size(0), anchors.size(0)
        if num_gt == 0 or num_bboxes == 0:
            result = empty_result(num_gt, num_bboxes, anchors, gt_labels)
            result.assign_metrics = anchors.new_zeros((num_bboxes,))
            return result
        overlaps = self.iou_calculator(decode_bboxes, gt_bboxes).detach()
        scores = pred_scores[:, gt_labels].detach()
        metrics = scores**alpha * overlaps**beta
        is_pos = self._positives(metrics, anchors, gt_bboxes)
        masked = torch.where(is_pos, overlaps, overlaps.new_tensor(-INF))
        max_overlaps, argmax = masked.max(dim=1)
        pos = max_overlaps != -INF
        gt_inds = torch.where(pos, argmax + 1, torch.zeros_like(argmax))
        chosen = metrics.gather(1, argmax[:, None]).squeeze(1)
        result = AssignResult(
            num_gt,
            gt_inds,
            max_overlaps,
            labels=labels_of(gt_inds, gt_labels),
        )
        result.assign_metrics = torch.where(
            pos, chosen, torch.zeros_like(chosen)
        )
        return result

    def _positives(self, metrics, anchors, gt_bboxes):
        """(N, G) bool: among each gt's top-k metrics, those above 0 whose
        anchor center is inside the gt by more than 0.01."""
        topk = min(self.topk, metrics.size(0))
        top_metrics, cand = metrics.topk(topk, dim=0, largest=True)
        centers = (anchors[:, :2] + anchors[:, 2:]) / 2.0
        margin = inside_margin(centers, gt_bboxes)
        ok = (top_metrics > 0) & (margin.gather(0, cand) > 0.01)
        is_pos = torch.zeros_like(metrics, dtype=torch.bool)
        is_pos.scatter_(0, cand, ok)
        return is_pos
