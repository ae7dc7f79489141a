"""Cascade RPN's first-stage assignment (Vu et al., 2019): an anchor is
positive when its centre lies in the centre region of a gt on the gt's
own pyramid level, as in guided anchoring."""

import torch

from ...anchor.utils import anchor_inside_flags, calc_region
from ..builder import BBOX_ASSIGNERS
from .assign_result import AssignResult
from .base_assigner import BaseAssigner


def anchor_ctr_inside_region_flags(anchors, stride, region):
    """(N,) whether the centres of (N, 4) anchors, in cells of ``stride``,
    lie in ``region`` ``(x1, y1, x2, y2)`` (cells, bounds included)."""
    x1, y1, x2, y2 = region
    cells = anchors / stride
    x = (cells[:, 0] + cells[:, 2]) * 0.5
    y = (cells[:, 1] + cells[:, 3]) * 0.5
    return (x >= x1) & (x <= x2) & (y >= y1) & (y <= y2)


@BBOX_ASSIGNERS.register_module()
class RegionAssigner(BaseAssigner):
    """Region-based assignment over all levels at once.

    Each gt picks its level as guided anchoring does (``log2`` of its
    size over ``anchor_scale * anchor_strides[0]``). On that level the
    anchors centred in its ``ignore_ratio`` region are ignored (-1), then
    those in its ``center_ratio`` region become its positives. Anchors
    outside the image (beyond ``allowed_border``) are ignored.

    As in MMDetection 2.28, the ignore regions of the neighbouring levels
    end up ignoring only the first one or two anchors of each level (it
    indexes with the 0/1 flags as positions); this keeps its targets.

    Args:
        center_ratio (float): positive region, fraction of the gt.
        ignore_ratio (float): ignored region, fraction of the gt.
    """

    def __init__(self, center_ratio=0.2, ignore_ratio=0.5):
        self.center_ratio = center_ratio
        self.ignore_ratio = ignore_ratio

    def assign(
        self,
        mlvl_anchors,
        mlvl_valid_flags,
        gt_bboxes,
        img_meta,
        featmap_sizes,
        anchor_scale,
        anchor_strides,
        gt_bboxes_ignore=None,
        gt_labels=None,
        allowed_border=0,
    ):
        """Assign the (H_l * W_l, 4) anchors of every level.

        Returns:
            :obj:`AssignResult`: ``gt_inds`` over the anchors of all levels
            (1-based gt index, 0 negative, -1 ignored); no overlaps.
        """
        if gt_bboxes_ignore is not None:
            raise NotImplementedError('RegionAssigner: no ignored gt boxes')
        num_gts = gt_bboxes.shape[0]
        num_anchors = sum(a.shape[0] for a in mlvl_anchors)
        if num_gts == 0 or num_anchors == 0:
            labels = None
            if gt_labels is not None:
                labels = gt_bboxes.new_full((num_anchors,), -1).long()
            return AssignResult(
                num_gts,
                gt_bboxes.new_zeros((num_anchors,), dtype=torch.long),
                gt_bboxes.new_zeros((num_anchors,)),
                labels=labels,
            )
        gt_inds = self._level_assign(
            mlvl_anchors,
            gt_bboxes,
            featmap_sizes,
            anchor_scale,
            anchor_strides,
        )
        inside = anchor_inside_flags(
            torch.cat(mlvl_anchors),
            torch.cat(mlvl_valid_flags),
            img_meta['img_shape'],
            allowed_border,
        )
        gt_inds[~inside] = -1
        labels = None
        if gt_labels is not None:
            labels = torch.zeros_like(gt_inds)
            pos = gt_inds > 0
            labels[pos] = gt_labels[gt_inds[pos] - 1]
        return AssignResult(num_gts, gt_inds, None, labels=labels)

    def _level_assign(
        self, mlvl_anchors, gt_bboxes, featmap_sizes, anchor_scale, strides
    ):
        """(N,) gt indices of the anchors of all levels, before the image
        border check."""
        num_lvls = len(mlvl_anchors)
        r1 = (1 - self.center_ratio) / 2
        r2 = (1 - self.ignore_ratio) / 2
        wh = gt_bboxes[:, 2:4] - gt_bboxes[:, :2]
        scale = torch.sqrt(wh[:, 0] * wh[:, 1])
        min_size = scale.new_full((1,), float(anchor_scale * strides[0]))
        lvls = torch.floor(torch.log2(scale) - torch.log2(min_size) + 0.5)
        lvls = lvls.clamp(min=0, max=num_lvls - 1).long().tolist()
        gt_inds = [
            a.new_zeros(a.size(0), dtype=torch.long) for a in mlvl_anchors
        ]
        neighbour_ignored = [torch.zeros_like(t) for t in gt_inds]

        def inside(gt, lvl, ratio):
            region = calc_region(gt / strides[lvl], ratio, featmap_sizes[lvl])
            return anchor_ctr_inside_region_flags(
                mlvl_anchors[lvl], strides[lvl], region
            )

        for gt_id, (gt, lvl) in enumerate(zip(gt_bboxes[:, :4], lvls)):
            gt_inds[lvl][inside(gt, lvl, r2)] = -1
            gt_inds[lvl][inside(gt, lvl, r1)] = gt_id + 1
            for near in (lvl - 1, lvl + 1):
                if 0 <= near < num_lvls:
                    neighbour_ignored[near][inside(gt, near, r2)] = 1
        for inds, flags in zip(gt_inds, neighbour_ignored):
            inds[flags] = -1  # long flags: positions 0 / 1 (see above)
        return torch.cat(gt_inds)
