"""Center-region assignment: positives in a shrunk core of each gt,
shadowed boxes in an enlarged ring around it."""

import torch

from mmdet.utils.arg_errors import InvalidArgumentError
from ..builder import BBOX_ASSIGNERS
from ..iou_calculators import build_iou_calculator
from ._common import labels_of
from .assign_result import AssignResult
from .base_assigner import BaseAssigner


def scale_boxes(bboxes, scale):
    """(N, 4) boxes scaled by ``scale`` about their centers."""
    center = (bboxes[:, :2] + bboxes[:, 2:]) * 0.5
    half = (bboxes[:, 2:] - bboxes[:, :2]) * 0.5 * scale
    return torch.cat([center - half, center + half], dim=1)


def is_located_in(points, bboxes):
    """(N, G) bool: point (N, 2) strictly inside box (G, 4)."""
    x, y = points[:, :1], points[:, 1:2]
    return (
        (x > bboxes[:, 0])
        & (x < bboxes[:, 2])
        & (y > bboxes[:, 1])
        & (y < bboxes[:, 3])
    )


def bboxes_area(bboxes):
    """(N,) areas of (N, 4) boxes."""
    return (bboxes[:, 2] - bboxes[:, 0]) * (bboxes[:, 3] - bboxes[:, 1])


@BBOX_ASSIGNERS.register_module()
class CenterRegionAssigner(BaseAssigner):
    """A box whose center lies in a gt and which overlaps the gt's core
    (the gt scaled by ``pos_scale``) is positive; one overlapping the
    shadow (scaled by ``neg_scale``) only is reported in the result's
    ``shadowed_labels``. Among several gts the smallest one wins.

    Args:
        pos_scale (float): scale of the core region.
        neg_scale (float): scale of the shadow region.
        min_pos_iof (float): least IoF of a box with a core/shadow.
        ignore_gt_scale (float): scale of ignored gts; centers inside are
            ignored.
        foreground_dominate (bool): a positive keeps its label where a
            shadow of the same class covers it (else it becomes negative).
        iou_calculator (dict): config of the IoU calculator.
    """

    def __init__(
        self,
        pos_scale,
        neg_scale,
        min_pos_iof=0.01,
        ignore_gt_scale=0.5,
        foreground_dominate=False,
        iou_calculator=dict(type='BboxOverlaps2D'),
    ):
        self.pos_scale = pos_scale
        self.neg_scale = neg_scale
        self.min_pos_iof = min_pos_iof
        self.ignore_gt_scale = ignore_gt_scale
        self.foreground_dominate = foreground_dominate
        self.iou_calculator = build_iou_calculator(iou_calculator)

    def get_gt_priorities(self, gt_bboxes):
        """(G,) priority of each gt: its rank by decreasing area, so the
        smallest gt has the highest priority."""
        order = bboxes_area(gt_bboxes).sort(descending=True).indices
        return order.argsort()

    def assign(self, bboxes, gt_bboxes, gt_bboxes_ignore=None, gt_labels=None):
        """Boxes (N, 4) and gt boxes (G, 4) -> :class:`AssignResult` with
        the extra property ``shadowed_labels`` (S, 2) ``(box index,
        label)`` (box index, gt index + 1 without ``gt_labels``)."""
        if bboxes.size(1) != 4:
            raise InvalidArgumentError('bboxes must have size of 4')
        in_core, in_shadow = self._regions(bboxes, gt_bboxes)
        num_gts, num_bboxes = gt_bboxes.size(0), bboxes.size(0)
        if num_gts == 0 or num_bboxes == 0:
            gt_inds = in_core.new_zeros((num_bboxes,), dtype=torch.long)
            shadowed = gt_inds.new_empty((0, 2))
        else:
            gt_inds, shadowed = self.assign_one_hot_gt_indices(
                in_core, in_shadow, self.get_gt_priorities(gt_bboxes)
            )
        if gt_bboxes_ignore is not None and gt_bboxes_ignore.numel() > 0:
            ignore = scale_boxes(gt_bboxes_ignore, self.ignore_gt_scale)
            centers = (bboxes[:, 2:] + bboxes[:, :2]) / 2
            gt_inds[is_located_in(centers, ignore).any(dim=1)] = -1
        labels = labels_of(gt_inds, gt_labels)
        shadowed_labels = None
        if gt_labels is not None:
            shadowed_labels = self._shadow_labels(
                shadowed, gt_inds, labels, gt_labels
            )
        result = AssignResult(num_gts, gt_inds, None, labels=labels)
        result.set_extra_property('shadowed_labels', shadowed_labels)
        return result

    def _regions(self, bboxes, gt_bboxes):
        """(N, G) bools: box in the gt's core, box in its shadow only."""
        centers = (bboxes[:, 2:] + bboxes[:, :2]) / 2
        core = scale_boxes(gt_bboxes, self.pos_scale)
        shadow = scale_boxes(gt_bboxes, self.neg_scale)
        core_iof = self.iou_calculator(bboxes, core, mode='iof')
        shadow_iof = self.iou_calculator(bboxes, shadow, mode='iof')
        in_core = is_located_in(centers, gt_bboxes) & (
            core_iof > self.min_pos_iof
        )
        return in_core, (shadow_iof > self.min_pos_iof) & ~in_core

    def _shadow_labels(self, shadowed, gt_inds, labels, gt_labels):
        """(S, 2) ``(box, label)`` of shadowed pairs; a positive shadowed
        by a gt of its own class becomes negative unless
        ``foreground_dominate``, in which case the pair is dropped."""
        out = shadowed.clone()
        if shadowed.numel() == 0:
            return out
        box, gt = shadowed[:, 0], shadowed[:, 1]
        assert (gt_inds[box] != gt).all(), 'pixel both shadowed and assigned'
        out[:, 1] = gt_labels[gt - 1]
        same = labels[box] == out[:, 1]
        if self.foreground_dominate:
            return out[~same]
        labels[box[same]] = -1
        gt_inds[box[same]] = 0
        return out

    def assign_one_hot_gt_indices(
        self, is_bbox_in_gt_core, is_bbox_in_gt_shadow, gt_priority=None
    ):
        """Each box in some core goes to the core gt of highest priority;
        returns gt indices (N,) (0 none) and (S, 2) ``(box, gt + 1)``
        pairs: shadow pairs, then core pairs that lost to another gt."""
        num_bboxes, num_gts = is_bbox_in_gt_core.shape
        if gt_priority is None:
            gt_priority = torch.arange(
                num_gts, device=is_bbox_in_gt_core.device
            )
        gt_inds = is_bbox_in_gt_core.new_zeros((num_bboxes,), dtype=torch.long)
        shadowed = torch.nonzero(is_bbox_in_gt_shadow)
        if not is_bbox_in_gt_core.any():
            shadowed[:, 1] += 1
            return gt_inds, shadowed
        priority = torch.where(
            is_bbox_in_gt_core,
            gt_priority[None].expand(num_bboxes, -1),
            torch.full_like(gt_priority, -1)[None],
        )
        matched = is_bbox_in_gt_core.any(dim=1)
        best = priority[matched].max(dim=1).indices
        gt_inds[matched] = best + 1
        losers = is_bbox_in_gt_core.clone()
        losers[torch.nonzero(matched).squeeze(1), best] = False
        shadowed = torch.cat([shadowed, torch.nonzero(losers)], dim=0)
        shadowed[:, 1] += 1
        return gt_inds, shadowed
