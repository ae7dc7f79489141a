"""One-to-one (Hungarian) matching of predictions to ground truths."""

import numpy as np
import torch

from mmdet.utils.arg_errors import InvalidArgumentError
from ..builder import BBOX_ASSIGNERS
from ..match_costs import build_match_cost
from ..transforms import bbox_cxcywh_to_xyxy
from .assign_result import AssignResult
from .base_assigner import BaseAssigner


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
        # imported here: importing scipy adds warning filters, which
        # importing mmdet must not do
        from scipy.optimize import linear_sum_assignment

        cost = cost.detach().cpu().numpy().astype(np.float64)
        rows, cols = linear_sum_assignment(cost)
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
