"""Assign boxes to gt boxes by their IoU (Faster R-CNN's rule)."""

import numbers

import torch

from ..builder import BBOX_ASSIGNERS
from ..iou_calculators import build_iou_calculator
from .assign_result import AssignResult
from .base_assigner import BaseAssigner


@BBOX_ASSIGNERS.register_module()
class MaxIoUAssigner(BaseAssigner):
    """Assign every box to the gt box it overlaps most, by thresholds.

    Every box starts as "ignore" (-1), then:

    1. boxes whose best IoU with any gt is in the negative range
       (``[0, neg_iou_thr)``, or ``[lo, hi)`` for a tuple) become
       negatives (0);
    2. boxes whose best IoU is ``>= pos_iou_thr`` become positives of that
       gt (``i + 1``);
    3. with ``match_low_quality``, every gt whose best IoU is
       ``>= min_pos_iou`` takes the box(es) it overlaps most, even below
       ``pos_iou_thr``; a later gt wins when two gts claim one box.

    Boxes overlapping an ignored gt (``gt_bboxes_ignore``) by an IoF above
    ``ignore_iof_thr`` stay "ignore".

    Args:
        pos_iou_thr (float): IoU threshold of positives.
        neg_iou_thr (float | tuple[float, float]): IoU upper bound of
            negatives, or their ``[lo, hi)`` range.
        min_pos_iou (float): the lowest IoU for a low-quality match.
        gt_max_assign_all (bool): a low-quality match takes every box tied
            at the gt's best IoU, not only the first.
        ignore_iof_thr (float): IoF threshold against ignored gt boxes;
            negative disables ignoring.
        ignore_wrt_candidates (bool): the IoF's foreground is the box
            (True) or the ignored gt box (False).
        match_low_quality (bool): do step 3. RPN uses it; R-CNN stages
            usually not, to avoid low-quality positives.
        gpu_assign_thr (int): with more gt boxes than this (and > 0),
            assign on the CPU to spare GPU memory.
        iou_calculator (dict): config of the IoU calculator.
    """

    def __init__(
        self,
        pos_iou_thr,
        neg_iou_thr,
        min_pos_iou=0.0,
        gt_max_assign_all=True,
        ignore_iof_thr=-1,
        ignore_wrt_candidates=True,
        match_low_quality=True,
        gpu_assign_thr=-1,
        iou_calculator=dict(type='BboxOverlaps2D'),
    ):
        self.pos_iou_thr = pos_iou_thr
        self.neg_iou_thr = neg_iou_thr
        self.neg_range = self._neg_range(neg_iou_thr)
        self.min_pos_iou = min_pos_iou
        self.gt_max_assign_all = gt_max_assign_all
        self.ignore_iof_thr = ignore_iof_thr
        self.ignore_wrt_candidates = ignore_wrt_candidates
        self.gpu_assign_thr = gpu_assign_thr
        self.match_low_quality = match_low_quality
        self.iou_calculator = build_iou_calculator(iou_calculator)

    @staticmethod
    def _neg_range(neg_iou_thr):
        """``[lo, hi)`` of the IoU of negatives."""
        if isinstance(neg_iou_thr, numbers.Real):
            return 0.0, float(neg_iou_thr)
        if isinstance(neg_iou_thr, (tuple, list)) and len(neg_iou_thr) == 2:
            return float(neg_iou_thr[0]), float(neg_iou_thr[1])
        raise TypeError(
            'neg_iou_thr must be a float or a (lo, hi) tuple, '
            f'got {neg_iou_thr!r}'
        )

    def assign(self, bboxes, gt_bboxes, gt_bboxes_ignore=None, gt_labels=None):
        """Assign boxes to gt boxes.

        Args:
            bboxes (Tensor): (N, 4) boxes (priors or proposals; a 5th
                column, a score, is ignored).
            gt_bboxes (Tensor): (K, 4) gt boxes.
            gt_bboxes_ignore (Tensor, optional): (I, 4) boxes to ignore,
                e.g. COCO crowds.
            gt_labels (Tensor, optional): (K,) labels of the gt boxes.

        Returns:
            :obj:`AssignResult`: ``gt_inds`` (N,) with -1 ignore, 0
            negative, ``i + 1`` gt ``i``; ``labels`` (N,) (-1 where not
            positive), or None without ``gt_labels``.
        """
        on_cpu = 0 < self.gpu_assign_thr < gt_bboxes.shape[0]
        if on_cpu:
            device = bboxes.device
            bboxes, gt_bboxes = bboxes.cpu(), gt_bboxes.cpu()
            if gt_bboxes_ignore is not None:
                gt_bboxes_ignore = gt_bboxes_ignore.cpu()
            if gt_labels is not None:
                gt_labels = gt_labels.cpu()

        overlaps = self.iou_calculator(gt_bboxes, bboxes)
        if (
            self.ignore_iof_thr > 0
            and gt_bboxes_ignore is not None
            and gt_bboxes_ignore.numel() > 0
            and bboxes.numel() > 0
        ):
            ignored = self._ignored_mask(bboxes, gt_bboxes_ignore)
            overlaps[:, ignored] = -1
        result = self.assign_wrt_overlaps(overlaps, gt_labels)

        if on_cpu:
            result.gt_inds = result.gt_inds.to(device)
            result.max_overlaps = result.max_overlaps.to(device)
            if result.labels is not None:
                result.labels = result.labels.to(device)
        return result

    def _ignored_mask(self, bboxes, gt_bboxes_ignore):
        """(N,) bool: boxes overlapping an ignored box beyond the IoF
        threshold."""
        if self.ignore_wrt_candidates:
            iof = self.iou_calculator(bboxes, gt_bboxes_ignore, mode='iof')
            best = iof.max(dim=1).values
        else:
            iof = self.iou_calculator(gt_bboxes_ignore, bboxes, mode='iof')
            best = iof.max(dim=0).values
        return best > self.ignore_iof_thr

    def assign_wrt_overlaps(self, overlaps, gt_labels=None):
        """Assign boxes from their overlaps with the gt boxes.

        Args:
            overlaps (Tensor): (K, N) overlaps of K gt boxes and N boxes;
                -1 marks ignored boxes.
            gt_labels (Tensor, optional): (K,) labels.

        Returns:
            :obj:`AssignResult`
        """
        num_gts, num_bboxes = overlaps.shape
        gt_inds = overlaps.new_full((num_bboxes,), -1, dtype=torch.long)
        if num_gts == 0 or num_bboxes == 0:
            max_overlaps = overlaps.new_zeros((num_bboxes,))
            if num_gts == 0:
                gt_inds.fill_(0)  # no object anywhere: all background
            labels = (
                None
                if gt_labels is None
                else overlaps.new_full((num_bboxes,), -1, dtype=torch.long)
            )
            return AssignResult(num_gts, gt_inds, max_overlaps, labels)

        max_overlaps, argmax_overlaps = overlaps.max(dim=0)
        gt_max_overlaps, gt_argmax_overlaps = overlaps.max(dim=1)

        neg_lo, neg_hi = self.neg_range
        gt_inds[(max_overlaps >= neg_lo) & (max_overlaps < neg_hi)] = 0

        pos = max_overlaps >= self.pos_iou_thr
        gt_inds[pos] = argmax_overlaps[pos] + 1

        if self.match_low_quality:
            gt_inds = self._match_low_quality(
                overlaps, gt_inds, gt_max_overlaps, gt_argmax_overlaps
            )

        labels = None
        if gt_labels is not None:
            labels = gt_inds.new_full((num_bboxes,), -1)
            pos = gt_inds > 0
            labels[pos] = gt_labels[gt_inds[pos] - 1].long()
        return AssignResult(num_gts, gt_inds, max_overlaps, labels)

    def _match_low_quality(
        self, overlaps, gt_inds, gt_max_overlaps, gt_argmax_overlaps
    ):
        """Give every gt (with best IoU >= ``min_pos_iou``) its best
        box(es); where gts compete for a box the last one wins."""
        num_gts, num_bboxes = overlaps.shape
        if self.gt_max_assign_all:
            claims = overlaps == gt_max_overlaps[:, None]
        else:
            claims = torch.zeros_like(overlaps, dtype=torch.bool)
            claims[
                torch.arange(num_gts, device=overlaps.device),
                gt_argmax_overlaps,
            ] = True
        claims &= (gt_max_overlaps >= self.min_pos_iou)[:, None]
        gt_ids = torch.arange(1, num_gts + 1, device=overlaps.device)[:, None]
        winner = (claims.long() * gt_ids).max(dim=0).values
        return torch.where(winner > 0, winner, gt_inds)

    def __repr__(self):
        return (
            f'{self.__class__.__name__}(pos_iou_thr={self.pos_iou_thr}, '
            f'neg_iou_thr={self.neg_iou_thr}, '
            f'min_pos_iou={self.min_pos_iou}, '
            f'match_low_quality={self.match_low_quality})'
        )
