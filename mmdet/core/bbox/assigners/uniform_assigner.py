"""Uniform matching of YOLOF (Chen et al., 2021)."""

import torch

from ..builder import BBOX_ASSIGNERS
from ..iou_calculators import build_iou_calculator
from ..transforms import bbox_xyxy_to_cxcywh
from ._common import labels_of
from .assign_result import AssignResult
from .base_assigner import BaseAssigner


@BBOX_ASSIGNERS.register_module()
class UniformAssigner(BaseAssigner):
    """Each gt takes the ``match_times`` predictions and the
    ``match_times`` anchors nearest to it (L1 distance of ``cx, cy, w,
    h``), so every gt gets the same number of positives; matches whose
    anchor IoU is below ``pos_ignore_thr`` and unmatched predictions with
    an IoU above ``neg_ignore_thr`` are ignored.

    Args:
        pos_ignore_thr (float): least anchor IoU of a positive.
        neg_ignore_thr (float): IoU above which a negative is ignored.
        match_times (int): matches per gt from predictions and anchors each.
        iou_calculator (dict): config of the IoU calculator.
    """

    def __init__(
        self,
        pos_ignore_thr,
        neg_ignore_thr,
        match_times=4,
        iou_calculator=dict(type='BboxOverlaps2D'),
    ):
        self.match_times = match_times
        self.pos_ignore_thr = pos_ignore_thr
        self.neg_ignore_thr = neg_ignore_thr
        self.iou_calculator = build_iou_calculator(iou_calculator)

    def assign(
        self,
        bbox_pred,
        anchor,
        gt_bboxes,
        gt_bboxes_ignore=None,
        gt_labels=None,
    ):
        """Predicted boxes (N, 4), anchors (N, 4), gt boxes (G, 4) ->
        :class:`AssignResult` with extra properties ``pos_idx`` (M,),
        ``pos_predicted_boxes`` (M, 4), ``target_boxes`` (M, 4), M =
        ``2 * match_times * G``."""
        num_gts, num_bboxes = gt_bboxes.size(0), bbox_pred.size(0)
        gt_inds = bbox_pred.new_zeros((num_bboxes,), dtype=torch.long)
        if num_gts == 0 or num_bboxes == 0:
            labels = bbox_pred.new_full((num_bboxes,), -1, dtype=torch.long)
            result = AssignResult(num_gts, gt_inds, None, labels=labels)
            self._set_matches(
                result,
                bbox_pred.new_empty(0, dtype=torch.bool),
                bbox_pred.new_empty((0, 4)),
                bbox_pred.new_empty((0, 4)),
            )
            return result
        indexes = torch.cat(
            [
                self._nearest(bbox_pred, gt_bboxes),
                self._nearest(anchor, gt_bboxes),
            ],
            dim=1,
        ).reshape(-1)
        pred_overlaps = self.iou_calculator(bbox_pred, gt_bboxes)
        anchor_overlaps = self.iou_calculator(anchor, gt_bboxes)
        gt_inds[pred_overlaps.max(dim=1).values > self.neg_ignore_thr] = -1
        pos_gt = torch.arange(num_gts, device=bbox_pred.device).repeat(
            self.match_times * 2
        )
        ignored = anchor_overlaps[indexes, pos_gt] < self.pos_ignore_thr
        gt_inds[indexes] = torch.where(
            ignored, torch.full_like(pos_gt, -1), pos_gt + 1
        )
        result = AssignResult(
            num_gts,
            gt_inds,
            anchor_overlaps.max(dim=0).values,
            labels=labels_of(gt_inds, gt_labels),
        )
        self._set_matches(
            result, ~ignored, bbox_pred[indexes], gt_bboxes[pos_gt]
        )
        return result

    def _nearest(self, boxes, gt_bboxes):
        """(match_times, G) indices of the boxes nearest to each gt."""
        cost = torch.cdist(
            bbox_xyxy_to_cxcywh(boxes), bbox_xyxy_to_cxcywh(gt_bboxes), p=1
        )
        return cost.topk(self.match_times, dim=0, largest=False).indices

    @staticmethod
    def _set_matches(result, pos_idx, pred_boxes, target_boxes):
        result.set_extra_property('pos_idx', pos_idx)
        result.set_extra_property('pos_predicted_boxes', pred_boxes)
        result.set_extra_property('target_boxes', target_boxes)
