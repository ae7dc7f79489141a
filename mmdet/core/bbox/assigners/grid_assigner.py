"""Max-IoU assignment restricted to responsible grid cells (YOLOv3)."""

import torch

from ..builder import BBOX_ASSIGNERS
from ..iou_calculators import build_iou_calculator
from ._common import labels_of
from .assign_result import AssignResult
from .base_assigner import BaseAssigner


@BBOX_ASSIGNERS.register_module()
class GridAssigner(BaseAssigner):
    """Negatives by IoU over all boxes; positives only among boxes whose
    ``box_responsible_flags`` is set (the cell holding a gt center).

    Args:
        pos_iou_thr (float): IoU above which a responsible box is positive.
        neg_iou_thr (float | tuple[float]): IoU at most which (or the
            ``(lo, hi]`` range in which) a box is negative.
        min_pos_iou (float): least IoU for a gt's best box to be taken.
        gt_max_assign_all (bool): give a gt all its equally best boxes.
        iou_calculator (dict): config of the IoU calculator.
    """

    def __init__(
        self,
        pos_iou_thr,
        neg_iou_thr,
        min_pos_iou=0.0,
        gt_max_assign_all=True,
        iou_calculator=dict(type='BboxOverlaps2D'),
    ):
        self.pos_iou_thr = pos_iou_thr
        self.neg_iou_thr = neg_iou_thr
        self.min_pos_iou = min_pos_iou
        self.gt_max_assign_all = gt_max_assign_all
        self.iou_calculator = build_iou_calculator(iou_calculator)

    def assign(self, bboxes, box_responsible_flags, gt_bboxes, gt_labels=None):
        """Boxes (N, 4), flags (N,), gt boxes (G, 4) ->
        :class:`AssignResult` (-1 ignored, 0 negative, i + 1 gt i)."""
        num_gts, num_bboxes = gt_bboxes.size(0), bboxes.size(0)
        overlaps = self.iou_calculator(gt_bboxes, bboxes)
        gt_inds = overlaps.new_full((num_bboxes,), -1, dtype=torch.long)
        if num_gts == 0 or num_bboxes == 0:
            if num_gts == 0:
                gt_inds[:] = 0
            labels = (
                None
                if gt_labels is None
                else gt_inds.new_full((num_bboxes,), -1)
            )
            max_overlaps = overlaps.new_zeros((num_bboxes,))
            return AssignResult(num_gts, gt_inds, max_overlaps, labels=labels)
        gt_inds[self._negatives(overlaps.max(dim=0).values)] = 0
        responsible = box_responsible_flags.bool()
        overlaps[:, ~responsible] = -1.0
        max_overlaps, argmax = overlaps.max(dim=0)
        pos = (max_overlaps > self.pos_iou_thr) & responsible
        gt_inds[pos] = argmax[pos] + 1
        self._match_gt_best(overlaps, responsible, gt_inds)
        return AssignResult(
            num_gts,
            gt_inds,
            max_overlaps,
            labels=labels_of(gt_inds, gt_labels),
        )

    def _negatives(self, max_overlaps):
        """(N,) bool from each box's best IoU over all boxes."""
        thr = self.neg_iou_thr
        if isinstance(thr, float):
            return (max_overlaps >= 0) & (max_overlaps <= thr)
        if isinstance(thr, (tuple, list)):
            assert len(thr) == 2
            return (max_overlaps > thr[0]) & (max_overlaps <= thr[1])
        return torch.zeros_like(max_overlaps, dtype=torch.bool)

    def _match_gt_best(self, overlaps, responsible, gt_inds):
        """Give each gt its best responsible box(es) in place, later gts
        overwriting earlier ones."""
        gt_max, gt_argmax = overlaps.max(dim=1)
        for i in range(overlaps.size(0)):
            if gt_max[i] <= self.min_pos_iou:
                continue
            if self.gt_max_assign_all:
                gt_inds[(overlaps[i] == gt_max[i]) & responsible] = i + 1
            elif responsible[gt_argmax[i]]:
                gt_inds[gt_argmax[i]] = i + 1
