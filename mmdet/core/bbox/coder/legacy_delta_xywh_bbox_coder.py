"""Delta box coder of MMDetection 1.x, where a box's width is
``x2 - x1 + 1`` (the old pixel convention)."""

import math

import torch

from ..builder import BBOX_CODERS
from .base_bbox_coder import BaseBBoxCoder


def _center_size_legacy(boxes):
    """(..., 4) boxes -> center x, y and the legacy ``+1`` width, height."""
    cx = (boxes[..., 0] + boxes[..., 2]) * 0.5
    cy = (boxes[..., 1] + boxes[..., 3]) * 0.5
    w = boxes[..., 2] - boxes[..., 0] + 1.0
    h = boxes[..., 3] - boxes[..., 1] + 1.0
    return cx, cy, w, h


def legacy_bbox2delta(
    proposals, gt, means=(0.0, 0.0, 0.0, 0.0), stds=(1.0, 1.0, 1.0, 1.0)
):
    """Normalized deltas (..., 4) of ``gt`` from ``proposals`` (both
    (..., 4)) with ``+1`` sizes."""
    assert proposals.size() == gt.size()
    px, py, pw, ph = _center_size_legacy(proposals.float())
    gx, gy, gw, gh = _center_size_legacy(gt.float())
    deltas = torch.stack(
        [
            (gx - px) / pw,
            (gy - py) / ph,
            torch.log(gw / pw),
            torch.log(gh / ph),
        ],
        dim=-1,
    )
    return (deltas - deltas.new_tensor(means)) / deltas.new_tensor(stds)


def legacy_delta2bbox(
    rois,
    deltas,
    means=(0.0, 0.0, 0.0, 0.0),
    stds=(1.0, 1.0, 1.0, 1.0),
    max_shape=None,
    wh_ratio_clip=16 / 1000,
):
    """Boxes (..., N, 4k) from (..., N, 4) ``rois`` and (..., N, 4k) deltas
    (one ``max_shape`` (H, W) for all); sizes keep the
    ``+1`` convention and clipping is to ``[0, W - 1]`` / ``[0, H - 1]``."""
    k = deltas.size(-1) // 4
    stds = deltas.new_tensor(stds).repeat(k)
    d = (deltas * stds + deltas.new_tensor(means).repeat(k)).view(-1, k, 4)
    max_ratio = abs(math.log(wh_ratio_clip))
    dwh = d[..., 2:].clamp(min=-max_ratio, max=max_ratio)
    centers = _center_size_legacy(rois.reshape(-1, 4))
    px, py, pw, ph = (v.unsqueeze(1) for v in centers)
    gw, gh = pw * dwh[..., 0].exp(), ph * dwh[..., 1].exp()
    gx, gy = px + pw * d[..., 0], py + ph * d[..., 1]
    x1, y1 = gx - gw * 0.5, gy - gh * 0.5
    x2, y2 = gx + gw * 0.5, gy + gh * 0.5
    if max_shape is not None:
        x1, x2 = x1.clamp(0, max_shape[1] - 1), x2.clamp(0, max_shape[1] - 1)
        y1, y2 = y1.clamp(0, max_shape[0] - 1), y2.clamp(0, max_shape[0] - 1)
    return torch.stack([x1, y1, x2, y2], dim=-1).view_as(deltas)


@BBOX_CODERS.register_module()
class LegacyDeltaXYWHBBoxCoder(BaseBBoxCoder):
    """:class:`DeltaXYWHBBoxCoder` with MMDetection 1.x's ``+1`` box sizes,
    for models trained with it.

    Args:
        target_means (Sequence[float]): means of the deltas.
        target_stds (Sequence[float]): standard deviations of the deltas.
    """

    def __init__(
        self,
        target_means=(0.0, 0.0, 0.0, 0.0),
        target_stds=(1.0, 1.0, 1.0, 1.0),
    ):
        super().__init__()
        self.means = target_means
        self.stds = target_stds

    def encode(self, bboxes, gt_bboxes):
        """(N, 4) boxes and gt boxes -> (N, 4) deltas."""
        assert bboxes.size(0) == gt_bboxes.size(0)
        assert bboxes.size(-1) == gt_bboxes.size(-1) == 4
        return legacy_bbox2delta(bboxes, gt_bboxes, self.means, self.stds)

    def decode(
        self, bboxes, pred_bboxes, max_shape=None, wh_ratio_clip=16 / 1000
    ):
        """(..., N, 4) boxes and (..., N, 4k) deltas -> boxes shaped like
        the deltas."""
        assert pred_bboxes.size(0) == bboxes.size(0)
        return legacy_delta2bbox(
            bboxes,
            pred_bboxes,
            self.means,
            self.stds,
            max_shape,
            wh_ratio_clip,
        )
