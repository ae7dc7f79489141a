"""Adaptive Training Sample Selection (Zhang et al., CVPR 2020)."""

import warnings

import torch

from mmdet.utils.arg_errors import InvalidArgumentError
from ..builder import BBOX_ASSIGNERS
from ..iou_calculators import build_iou_calculator
from .assign_result import AssignResult
from .base_assigner import BaseAssigner

INF = 100000000


def _centers(bboxes):
    """(N, 4) boxes -> (N, 2) centres ``x, y``."""
    return torch.stack(
        [
            (bboxes[:, 0] + bboxes[:, 2]) / 2.0,
            (bboxes[:, 1] + bboxes[:, 3]) / 2.0,
        ],
        dim=1,
    )


@BBOX_ASSIGNERS.register_module()
class ATSSAssigner(BaseAssigner):
    """Assign each box to a gt box by ATSS.

    For every gt box:

    1. on every level take the ``topk`` boxes whose centres are nearest to
       the gt's centre (the candidates);
    2. the IoU threshold is the mean plus the standard deviation of the
       candidates' IoUs with the gt;
    3. candidates with an IoU at or above the threshold whose centre lies
       inside the gt (by more than 0.01 px) are positives.

    A box that is positive for several gts goes to the one it overlaps
    most; every other box is negative (0). Boxes overlapping an ignored
    gt by an IoF above ``ignore_iof_thr`` are ignored (-1).

    With ``alpha`` (DDOD) the IoUs of steps 2-3 and of the final choice are
    replaced by a cost ``sigmoid(score_of_gt_class) ** (1 - alpha) *
    IoU(predicted box, gt) ** alpha`` from the predictions passed to
    :meth:`assign`; the candidates are still the nearest anchors.

    Args:
        topk (int): candidates per level and gt.
        alpha (float, optional): the cost's IoU exponent; None: plain IoU.
        iou_calculator (dict): config of the IoU calculator.
        ignore_iof_thr (float): see above; <= 0 disables it.
    """

    def __init__(
        self,
        topk,
        alpha=None,
        iou_calculator=dict(type='BboxOverlaps2D'),
        ignore_iof_thr=-1,
    ):
        self.topk = topk
        self.alpha = alpha
        self.iou_calculator = build_iou_calculator(iou_calculator)
        self.ignore_iof_thr = ignore_iof_thr

    def assign(
        self,
        bboxes,
        num_level_bboxes,
        gt_bboxes,
        gt_bboxes_ignore=None,
        gt_labels=None,
        cls_scores=None,
        bbox_preds=None,
    ):
        """Assign (N, 4) ``bboxes`` (all levels concatenated).

        Args:
            bboxes (Tensor): (N, 4) boxes (anchors).
            num_level_bboxes (list[int]): boxes of every level, in order.
            gt_bboxes (Tensor): (k, 4) gt boxes.
            gt_bboxes_ignore (Tensor, optional): (m, 4) ignored boxes.
            gt_labels (Tensor, optional): (k,) labels.
            cls_scores (Tensor, optional): (N, C) logits, with ``alpha``.
            bbox_preds (Tensor, optional): (N, 4) decoded boxes, with
                ``alpha``.

        Returns:
            AssignResult: ``gt_inds`` (N,) (0 negative, -1 ignored, i gt
            i-1), ``max_overlaps`` (N,) the IoU with the assigned gt
            (-INF for negatives), ``labels`` (N,) (-1 where not positive).
        """
        bboxes = bboxes[:, :4]
        num_gt, num_bboxes = gt_bboxes.size(0), bboxes.size(0)
        overlaps = self._overlaps(
            bboxes, gt_bboxes, gt_labels, cls_scores, bbox_preds
        )
        assigned_gt_inds = overlaps.new_full(
            (num_bboxes,), 0, dtype=torch.long
        )
        if num_gt == 0 or num_bboxes == 0:
            max_overlaps = overlaps.new_zeros((num_bboxes,))
            labels = (
                None
                if gt_labels is None
                else overlaps.new_full((num_bboxes,), -1, dtype=torch.long)
            )
            return AssignResult(
                num_gt, assigned_gt_inds, max_overlaps, labels=labels
            )

        box_centers = _centers(bboxes)
        distances = (
            (box_centers[:, None, :] - _centers(gt_bboxes)[None, :, :])
            .pow(2)
            .sum(-1)
            .sqrt()
        )
        if (
            self.ignore_iof_thr > 0
            and gt_bboxes_ignore is not None
            and gt_bboxes_ignore.numel() > 0
        ):
            ignore_overlaps = self.iou_calculator(
                bboxes, gt_bboxes_ignore, mode='iof'
            )
            ignored = ignore_overlaps.max(dim=1).values > self.ignore_iof_thr
            distances[ignored, :] = INF
            assigned_gt_inds[ignored] = -1

        candidate_idxs = self._candidates(distances, num_level_bboxes)
        gt_range = torch.arange(num_gt, device=bboxes.device)
        candidate_overlaps = overlaps[candidate_idxs, gt_range]
        thr = candidate_overlaps.mean(0) + candidate_overlaps.std(0)
        is_pos = candidate_overlaps >= thr[None, :]
        is_pos &= self._centers_inside(box_centers[candidate_idxs], gt_bboxes)

        # (num_gt, N): the IoU of the positive pairs, -INF elsewhere
        pos_overlaps = torch.full_like(overlaps.t(), -INF)
        gt_of = gt_range[None, :].expand_as(candidate_idxs)
        pos_overlaps[gt_of[is_pos], candidate_idxs[is_pos]] = overlaps.t()[
            gt_of[is_pos], candidate_idxs[is_pos]
        ]
        max_overlaps, argmax = pos_overlaps.t().max(dim=1)
        positive = max_overlaps != -INF
        assigned_gt_inds[positive] = argmax[positive] + 1

        labels = None
        if gt_labels is not None:
            labels = assigned_gt_inds.new_full((num_bboxes,), -1)
            pos_inds = torch.nonzero(
                assigned_gt_inds > 0, as_tuple=False
            ).squeeze(1)
            if pos_inds.numel() > 0:
                labels[pos_inds] = gt_labels[assigned_gt_inds[pos_inds] - 1]
        return AssignResult(
            num_gt, assigned_gt_inds, max_overlaps, labels=labels
        )

    def _overlaps(self, bboxes, gt_bboxes, gt_labels, cls_scores, bbox_preds):
        """(N, k) IoUs of the boxes with the gts, or with ``alpha`` the
        predictions' cost."""
        if self.alpha is None:
            if cls_scores is not None or bbox_preds is not None:
                warnings.warn(
                    'ATSSAssigner ignores cls_scores/bbox_preds without alpha'
                )
            return self.iou_calculator(bboxes, gt_bboxes)
        if cls_scores is None or bbox_preds is None:
            raise InvalidArgumentError(
                'ATSSAssigner with alpha needs cls_scores and bbox_preds'
            )
        cls_cost = torch.sigmoid(cls_scores[:, gt_labels])
        ious = self.iou_calculator(bbox_preds, gt_bboxes)
        return cls_cost ** (1 - self.alpha) * ious**self.alpha

    def _candidates(self, distances, num_level_bboxes):
        """(sum_l min(topk, N_l), num_gt) indices of the boxes nearest to
        every gt centre, ``topk`` per level."""
        candidate_idxs = []
        start = 0
        for num in num_level_bboxes:
            level = distances[start : start + num, :]
            k = min(self.topk, num)
            _, idxs = level.topk(k, dim=0, largest=False)
            candidate_idxs.append(idxs + start)
            start += num
        return torch.cat(candidate_idxs, dim=0)

    @staticmethod
    def _centers_inside(centers, gt_bboxes):
        """(C, num_gt, 2) candidate centres -> (C, num_gt) bool: inside
        their gt box by more than 0.01 px on every side."""
        cx, cy = centers[..., 0], centers[..., 1]
        sides = torch.stack(
            [
                cx - gt_bboxes[:, 0],
                cy - gt_bboxes[:, 1],
                gt_bboxes[:, 2] - cx,
                gt_bboxes[:, 3] - cy,
            ],
            dim=-1,
        )
        return sides.min(dim=-1).values > 0.01

    def __repr__(self):
        return (
            f'{type(self).__name__}(topk={self.topk}, '
            f'ignore_iof_thr={self.ignore_iof_thr})'
        )
