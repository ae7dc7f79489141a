"""PISA's score-based hierarchical local rank (Score-HLR) sampling of
negatives (Cao et al., 2020): the negatives the R-CNN head currently
scores highest, ranked within their NMS groups first, are kept, and each
gets a loss weight from its rank."""

import torch
from torchvision.ops import box_iou

from ..builder import BBOX_SAMPLERS
from ..transforms import bbox2roi
from .base_sampler import BaseSampler
from .sampling_result import SamplingResult


def nms_match(dets, iou_threshold):
    """mmcv's ``nms_match``: NMS that also records what each kept box
    suppressed.

    Args:
        dets (Tensor): (N, 5) boxes ``x1, y1, x2, y2, score``.
        iou_threshold (float): boxes with IoU >= this (no +1 offset) with a
            kept box are suppressed by it.

    Returns:
        list[Tensor]: one (k,) long tensor per kept box: its index, then
        the indices it suppressed, each in descending score order.
    """
    if dets.size(0) == 0:
        return []
    boxes = dets[:, :4].detach().float().cpu()
    order = dets[:, 4].detach().cpu().sort(descending=True).indices
    ious = box_iou(boxes, boxes)
    suppressed = torch.zeros(len(boxes), dtype=torch.bool)
    groups = []
    for i in order.tolist():
        if suppressed[i]:
            continue
        hit = (ious[i, order] >= iou_threshold) & ~suppressed[order]
        members = order[hit & (order != i)]
        suppressed[members] = True
        suppressed[i] = True
        groups.append(
            torch.cat([order.new_tensor([i]), members]).to(dets.device)
        )
    return groups


def _hlr_importance(boxes, scores, iou_thr):
    """Importance of (n, 4) boxes with (n,) scores: within each NMS group
    (``nms_match``) the rank from the top, ties between groups broken by
    score; larger is more important."""
    imp = scores.new_zeros(scores.size(0))
    for group in nms_match(torch.cat([boxes, scores[:, None]], -1), iou_thr):
        rank = torch.arange(len(group), device=scores.device).to(scores)
        imp[group] = scores.size(0) - rank + scores[group]
    return imp


@BBOX_SAMPLERS.register_module()
class ScoreHLRSampler(BaseSampler):
    """Random positives; negatives by Score-HLR, with loss weights.

    ``sample`` returns ``(SamplingResult, neg_label_weights)``, the
    weights (Q,) of the sampled negatives in their order.

    Args:
        num, pos_fraction, neg_pos_ub, add_gt_as_proposals: as
            :class:`BaseSampler`.
        context: the RoI head; its ``_bbox_forward`` scores the negatives
            (the current stage's head of a cascade).
        k (float): power of the rank weights.
        bias (float): weight floor, ``(bias + (1 - bias) * w) ** k``.
        score_thr (float): negatives scoring above it are ranked, the others
            drawn at random when more are needed.
        iou_thr (float): IoU of the NMS grouping.
    """

    def __init__(
        self,
        num,
        pos_fraction,
        context,
        neg_pos_ub=-1,
        add_gt_as_proposals=True,
        k=0.5,
        bias=0,
        score_thr=0.05,
        iou_thr=0.5,
        **kwargs,
    ):
        super().__init__(num, pos_fraction, neg_pos_ub, add_gt_as_proposals)
        self.k = k
        self.bias = bias
        self.score_thr = score_thr
        self.iou_thr = iou_thr
        self.context = context
        stage = getattr(context, 'current_stage', None)
        if not hasattr(context, 'num_stages'):
            self.bbox_roi_extractor = context.bbox_roi_extractor
            self.bbox_head = context.bbox_head
            self.with_shared_head = context.with_shared_head
            if self.with_shared_head:
                self.shared_head = context.shared_head
        else:
            self.bbox_roi_extractor = context.bbox_roi_extractor[stage]
            self.bbox_head = context.bbox_head[stage]

    @staticmethod
    def random_choice(gallery, num):
        """``num`` random elements of the (n,) tensor ``gallery``."""
        perm = torch.randperm(gallery.numel(), device=gallery.device)[:num]
        return gallery[perm]

    def _sample_pos(self, assign_result, num_expected, **kwargs):
        pos_inds = torch.nonzero(assign_result.gt_inds > 0).flatten()
        if pos_inds.numel() <= num_expected:
            return pos_inds
        return self.random_choice(pos_inds, num_expected)

    def _neg_scores(self, neg_rois, feats):
        """Class logits, deltas and background loss (n,) of the rois."""
        result = self.context._bbox_forward(feats, neg_rois)
        cls_score = result['cls_score']
        num = cls_score.size(0)
        loss = self.bbox_head.loss(
            cls_score=cls_score,
            bbox_pred=None,
            rois=None,
            labels=cls_score.new_full(
                (num,), self.bbox_head.num_classes, dtype=torch.long
            ),
            label_weights=cls_score.new_ones(num),
            bbox_targets=None,
            bbox_weights=None,
            reduction_override='none',
        )['loss_cls']
        return cls_score, result['bbox_pred'], loss

    def _sample_neg(
        self,
        assign_result,
        num_expected,
        bboxes,
        feats=None,
        img_meta=None,
        **kwargs,
    ):
        """(Q,) negative indices and their (Q,) loss weights (None if there
        are no negatives)."""
        neg_inds = torch.nonzero(assign_result.gt_inds == 0).flatten()
        num_neg = neg_inds.size(0)
        if num_neg == 0:
            return neg_inds, None
        with torch.no_grad():
            neg_rois = bbox2roi([bboxes[neg_inds]])
            cls_score, bbox_pred, ori_loss = self._neg_scores(neg_rois, feats)
            max_score, argmax = cls_score.softmax(-1)[:, :-1].max(-1)
            valid = (max_score > self.score_thr).nonzero().view(-1)
            invalid = (max_score <= self.score_thr).nonzero().view(-1)
            num_expected = min(num_neg, num_expected)
            num_valid = valid.size(0)
            if num_valid == 0:
                select = torch.randperm(num_neg)[:num_expected]
                return neg_inds[select], cls_score.new_ones(num_expected)
            num_hlr = min(num_valid, num_expected)
            deltas = bbox_pred[valid].view(num_valid, -1, 4)
            deltas = deltas[torch.arange(num_valid), argmax[valid]]
            boxes = self.bbox_head.bbox_coder.decode(
                neg_rois[valid, 1:], deltas
            )
            imp = _hlr_importance(boxes, max_score[valid], self.iou_thr)
            rank_inds = imp.sort(descending=True).indices
            imp_rank = rank_inds.sort().indices
            hlr_inds = rank_inds[:num_expected]
            select = valid[hlr_inds]
            if num_expected > num_hlr:
                rand = torch.randperm(invalid.size(0))[
                    : num_expected - num_hlr
                ]
                select = torch.cat([select, invalid[rand]])
            up_bound = max(num_expected, num_valid)
            imp_weights = (up_bound - imp_rank[hlr_inds].float()) / up_bound
            weights = cls_score.new_ones(num_expected)
            weights[:num_hlr] = imp_weights
            weights[num_hlr:] = imp_weights.min()
            weights = (self.bias + (1 - self.bias) * weights).pow(self.k)
            selected_loss = ori_loss[select]
            weights *= selected_loss.sum() / (selected_loss * weights).sum()
            return neg_inds[select], weights

    def sample(
        self,
        assign_result,
        bboxes,
        gt_bboxes,
        gt_labels=None,
        img_meta=None,
        **kwargs,
    ):
        """Like :meth:`BaseSampler.sample` (``kwargs`` must carry ``feats``,
        the image's feature levels), returning ``(SamplingResult,
        neg_label_weights)``."""
        bboxes = bboxes[:, :4]
        gt_flags = bboxes.new_zeros((bboxes.shape[0],), dtype=torch.uint8)
        if self.add_gt_as_proposals:
            bboxes = torch.cat([gt_bboxes, bboxes], dim=0)
            assign_result.add_gt_(gt_labels)
            gt_ones = bboxes.new_ones(gt_bboxes.shape[0], dtype=torch.uint8)
            gt_flags = torch.cat([gt_ones, gt_flags])
        num_expected_pos = int(self.num * self.pos_fraction)
        pos_inds = self._sample_pos(assign_result, num_expected_pos)
        num_pos = pos_inds.numel()
        num_expected_neg = self.num - num_pos
        if self.neg_pos_ub >= 0:
            bound = int(self.neg_pos_ub * max(1, num_pos))
            num_expected_neg = min(num_expected_neg, bound)
        neg_inds, neg_label_weights = self._sample_neg(
            assign_result,
            num_expected_neg,
            bboxes,
            img_meta=img_meta,
            **kwargs,
        )
        result = SamplingResult(
            pos_inds, neg_inds, bboxes, gt_bboxes, assign_result, gt_flags
        )
        return result, neg_label_weights
