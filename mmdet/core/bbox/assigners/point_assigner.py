"""Point assignment of RepPoints (Yang et al., 2019)."""

import torch

from ..builder import BBOX_ASSIGNERS
from ._common import empty_result, labels_of
from .assign_result import AssignResult
from .base_assigner import BaseAssigner


@BBOX_ASSIGNERS.register_module()
class PointAssigner(BaseAssigner):
    """Each gt goes to the FPN level matching its size, where its
    ``pos_num`` points nearest to its center (distance in units of the
    box's width/height) become positives; a point claimed twice keeps the
    nearer gt.

    Args:
        scale (float): box size of level 0 is ``scale * stride``.
        pos_num (int): positive points per gt.
    """

    def __init__(self, scale=4, pos_num=3):
        self.scale = scale
        self.pos_num = pos_num

    def assign(self, points, gt_bboxes, gt_bboxes_ignore=None, gt_labels=None):
        """Points (N, 3) ``x, y, stride`` and gt boxes (G, 4) ->
        :class:`AssignResult` (no ``max_overlaps``)."""
        num_points, num_gts = points.shape[0], gt_bboxes.shape[0]
        if num_gts == 0 or num_points == 0:
            return empty_result(
                num_gts, num_points, points, gt_labels, max_overlaps=None
            )
        points_lvl = torch.log2(points[:, 2]).int()
        gt_xy = (gt_bboxes[:, :2] + gt_bboxes[:, 2:]) / 2
        gt_wh = (gt_bboxes[:, 2:] - gt_bboxes[:, :2]).clamp(min=1e-6)
        log_size = torch.log2(gt_wh / self.scale).sum(dim=1) / 2
        gt_lvl = log_size.int().clamp(
            min=points_lvl.min(), max=points_lvl.max()
        )
        gt_inds = points.new_zeros((num_points,), dtype=torch.long)
        best_dist = points.new_full((num_points,), float('inf'))
        for idx in range(num_gts):
            index = torch.nonzero(points_lvl == gt_lvl[idx]).squeeze(1)
            offsets = (points[index, :2] - gt_xy[idx]) / gt_wh[idx]
            dist, nearest = offsets.norm(dim=1).topk(
                self.pos_num, largest=False
            )
            index = index[nearest]
            closer = dist < best_dist[index]
            gt_inds[index[closer]] = idx + 1
            best_dist[index[closer]] = dist[closer]
        return AssignResult(
            num_gts, gt_inds, None, labels=labels_of(gt_inds, gt_labels)
        )
