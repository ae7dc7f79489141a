"""Side-aware boundary localisation (SABL, Wang et al., 2020): each side of
a box is found by picking one of ``ceil(num_buckets / 2)`` buckets that
tile the half of the (scaled) proposal next to that side, then refined by
an offset in bucket units."""

import math

import torch
import torch.nn.functional as F

from ..builder import BBOX_CODERS
from ..transforms import bbox_rescale
from .base_bbox_coder import BaseBBoxCoder


def _side_buckets(proposals, num_buckets, scale_factor):
    """Bucket widths (n,), heights (n,) and the bucket centres of each side
    (n, 4, S), order left, right, top, bottom, each counted from its side
    inwards (S = ceil(num_buckets / 2))."""
    boxes = bbox_rescale(proposals, scale_factor)
    side_num = math.ceil(num_buckets / 2)
    bucket_w = (boxes[:, 2] - boxes[:, 0]) / num_buckets
    bucket_h = (boxes[:, 3] - boxes[:, 1]) / num_buckets
    steps = 0.5 + torch.arange(side_num, device=boxes.device).to(boxes)
    sizes = torch.stack([bucket_w, bucket_w, bucket_h, bucket_h], dim=1)
    signs = boxes.new_tensor([1.0, -1.0, 1.0, -1.0])
    sides = boxes[:, [0, 2, 1, 3]]
    centres = sides[..., None] + (signs * sizes)[..., None] * steps
    return bucket_w, bucket_h, centres


def bbox2bucket(
    proposals,
    gt,
    num_buckets,
    scale_factor,
    offset_topk=2,
    offset_upperbound=1.0,
    cls_ignore_neighbor=True,
):
    """Bucket targets of (n, 4) proposals towards their (n, 4) gt boxes.

    Returns:
        tuple[Tensor]: each (n, 4 * S), sides in the order l, r, t, b:
        offsets (bucket centre - gt side, in bucket sizes), offset
        weights (1 for the nearest bucket, and for the next
        ``offset_topk - 1`` if closer than ``offset_upperbound``), one-hot
        bucket labels (the nearest bucket) and bucket label weights (0 on
        the other buckets within one bucket of the gt side, with
        ``cls_ignore_neighbor``).
    """
    proposals, gt = proposals.float(), gt.float()
    bucket_w, bucket_h, centres = _side_buckets(
        proposals, num_buckets, scale_factor
    )
    sizes = torch.stack([bucket_w, bucket_w, bucket_h, bucket_h], dim=1)
    offsets = (centres - gt[:, [0, 2, 1, 3], None]) / sizes[..., None]
    dists, order = offsets.abs().topk(offset_topk, dim=2, largest=False)
    offset_weights = torch.zeros_like(offsets)
    offset_weights.scatter_(2, order[..., :1], 1.0)
    if offset_topk > 1:
        near = (dists[..., 1:] < offset_upperbound).float()
        offset_weights.scatter_(2, order[..., 1:], near)
    side_num = offsets.size(2)
    labels = F.one_hot(order[..., 0], side_num).float()
    if cls_ignore_neighbor:
        cls_weights = (~((offsets.abs() < 1) & (labels == 0))).float()
    else:
        cls_weights = torch.ones_like(labels)
    n = proposals.size(0)
    return tuple(
        t.reshape(n, -1)
        for t in (offsets, offset_weights, labels, cls_weights)
    )


def bucket2bbox(
    proposals,
    cls_preds,
    offset_preds,
    num_buckets,
    scale_factor=1.0,
    max_shape=None,
    clip_border=True,
):
    """Boxes from bucket logits and offsets, both (n, 4 * S).

    Returns:
        tuple[Tensor]: boxes (n, 4) and their localisation confidence (n,):
        per side the best bucket's probability, plus the second best's when
        the two buckets are neighbours, averaged over the four sides.
    """
    n = proposals.size(0)
    bucket_w, bucket_h, centres = _side_buckets(
        proposals, num_buckets, scale_factor
    )
    side_num = centres.size(2)
    scores = F.softmax(cls_preds.view(n, 4, side_num), dim=2)
    top_scores, top_labels = scores.topk(2, dim=2)
    best = top_labels[..., :1]
    sizes = torch.stack([bucket_w, bucket_w, bucket_h, bucket_h], dim=1)
    offsets = offset_preds.view(n, 4, side_num).gather(2, best)[..., 0]
    sides = centres.gather(2, best)[..., 0] - offsets * sizes
    x1, x2, y1, y2 = sides.unbind(dim=1)
    if clip_border and max_shape is not None:
        x1, x2 = (v.clamp(min=0, max=max_shape[1] - 1) for v in (x1, x2))
        y1, y2 = (v.clamp(min=0, max=max_shape[0] - 1) for v in (y1, y2))
    bboxes = torch.stack([x1, y1, x2, y2], dim=1)
    neighbours = (top_labels[..., 0] - top_labels[..., 1]).abs() == 1
    confidence = top_scores[..., 0] + top_scores[..., 1] * neighbours.float()
    return bboxes, confidence.mean(dim=1)


@BBOX_CODERS.register_module()
class BucketingBBoxCoder(BaseBBoxCoder):
    """SABL's coder: :func:`bbox2bucket` / :func:`bucket2bbox`.

    Args:
        num_buckets (int): buckets across a (scaled) proposal side to side.
        scale_factor (float): proposals are scaled about their centres by
            this before bucketing.
        offset_topk (int): buckets per side given an offset target.
        offset_upperbound (float): the further buckets get an offset
            target only if closer than this (bucket sizes).
        cls_ignore_neighbor (bool): do not train the bucket classifier on
            the near-miss buckets.
        clip_border (bool): clip decoded boxes to ``max_shape``.
    """

    def __init__(
        self,
        num_buckets,
        scale_factor,
        offset_topk=2,
        offset_upperbound=1.0,
        cls_ignore_neighbor=True,
        clip_border=True,
    ):
        super().__init__()
        self.num_buckets = num_buckets
        self.scale_factor = scale_factor
        self.offset_topk = offset_topk
        self.offset_upperbound = offset_upperbound
        self.cls_ignore_neighbor = cls_ignore_neighbor
        self.clip_border = clip_border

    def encode(self, bboxes, gt_bboxes):
        """(n, 4) boxes and gts -> (offsets, offset_weights, bucket_labels,
        bucket_label_weights), each (n, 4 * S)."""
        if bboxes.shape != gt_bboxes.shape or bboxes.size(-1) != 4:
            raise ValueError(
                f'boxes {tuple(bboxes.shape)} and gts '
                f'{tuple(gt_bboxes.shape)} must both be (n, 4)'
            )
        return bbox2bucket(
            bboxes,
            gt_bboxes,
            self.num_buckets,
            self.scale_factor,
            self.offset_topk,
            self.offset_upperbound,
            self.cls_ignore_neighbor,
        )

    def decode(self, bboxes, pred_bboxes, max_shape=None):
        """(n, 4) boxes and ``(cls_preds, offset_preds)`` (each
        (n, 4 * S)) -> (boxes (n, 4), localisation confidence (n,))."""
        cls_preds, offset_preds = pred_bboxes
        return bucket2bbox(
            bboxes,
            cls_preds,
            offset_preds,
            self.num_buckets,
            self.scale_factor,
            max_shape,
            self.clip_border,
        )
