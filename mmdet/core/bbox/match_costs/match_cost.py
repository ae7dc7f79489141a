"""Pairwise costs between N predictions and M ground truths.

Every cost is a callable returning an (N, M) matrix, already multiplied
by its ``weight``; lower is a better match.
"""

import torch
import torch.nn.functional as F

from mmdet.utils.arg_errors import InvalidArgumentError, check_arg
from ..iou_calculators import bbox_overlaps
from ..transforms import bbox_cxcywh_to_xyxy, bbox_xyxy_to_cxcywh
from .builder import MATCH_COST


def _pairwise_sum(per_query_pos, per_query_neg, gt_binary):
    """(N, C) costs of predicting 1 / 0 and (M, C) binary targets ->
    (N, M) summed costs, averaged over the C elements."""
    gt_binary = gt_binary.flatten(1).float()
    total = per_query_pos @ gt_binary.T + per_query_neg @ (1 - gt_binary).T
    return total / per_query_pos.shape[1]


@MATCH_COST.register_module()
class BBoxL1Cost:
    """L1 distance between normalized boxes.

    ``bbox_pred`` is (N, 4) normalized ``cx, cy, w, h``; ``gt_bboxes`` is
    (M, 4) normalized ``x1, y1, x2, y2``. ``box_format`` is the format the
    distance is measured in: 'xyxy' (DETR) or 'xywh' (Sparse R-CNN; the
    gts are converted to ``cx, cy, w, h``).
    """

    def __init__(self, weight=1.0, box_format='xyxy'):
        check_arg(
            box_format in ('xyxy', 'xywh'),
            'BBoxL1Cost',
            f"box_format must be 'xyxy' or 'xywh', got {box_format!r}",
        )
        self.weight = weight
        self.box_format = box_format

    def __call__(self, bbox_pred, gt_bboxes):
        if self.box_format == 'xywh':
            gt_bboxes = bbox_xyxy_to_cxcywh(gt_bboxes)
        else:
            bbox_pred = bbox_cxcywh_to_xyxy(bbox_pred)
        return torch.cdist(bbox_pred, gt_bboxes, p=1) * self.weight


@MATCH_COST.register_module()
class FocalLossCost:
    """Focal-loss cost: positive minus negative focal term of each gt's
    class (``cls_pred`` (N, C) logits, ``gt_labels`` (M,)).

    With ``binary_input`` the inputs are (N, *) mask logits and (M, *)
    binary masks, and the cost is the per-pixel focal loss averaged over
    the pixels.
    """

    def __init__(
        self, weight=1.0, alpha=0.25, gamma=2, eps=1e-12, binary_input=False
    ):
        self.weight = weight
        self.alpha = alpha
        self.gamma = gamma
        self.eps = eps
        self.binary_input = binary_input

    def _pos_neg(self, logits):
        """Focal loss of each element if its target were 1 / 0."""
        p = logits.sigmoid()
        pos = -(p + self.eps).log() * self.alpha * (1 - p).pow(self.gamma)
        neg = -(1 - p + self.eps).log() * (1 - self.alpha) * p.pow(self.gamma)
        return pos, neg

    def __call__(self, cls_pred, gt_labels):
        if self.binary_input:
            pos, neg = self._pos_neg(cls_pred.flatten(1))
            return _pairwise_sum(pos, neg, gt_labels) * self.weight
        pos, neg = self._pos_neg(cls_pred)
        return (pos[:, gt_labels] - neg[:, gt_labels]) * self.weight


@MATCH_COST.register_module()
class ClassificationCost:
    """Negative softmax probability of each gt's class (N, C) -> (N, M)."""

    def __init__(self, weight=1.0):
        self.weight = weight

    def __call__(self, cls_pred, gt_labels):
        return -cls_pred.softmax(-1)[:, gt_labels] * self.weight


@MATCH_COST.register_module()
class IoUCost:
    """Negative IoU ('iou', 'giou', ...) between (N, 4) and (M, 4) pixel
    ``x1, y1, x2, y2`` boxes."""

    def __init__(self, iou_mode='giou', weight=1.0):
        self.weight = weight
        self.iou_mode = iou_mode

    def __call__(self, bboxes, gt_bboxes):
        overlaps = bbox_overlaps(bboxes, gt_bboxes, mode=self.iou_mode)
        return -overlaps * self.weight


@MATCH_COST.register_module()
class DiceCost:
    """Dice loss between (N, *) mask predictions and (M, *) binary masks.

    ``pred_act`` applies a sigmoid first; ``naive_dice=False`` squares the
    terms of the denominator (as K-Net and SOLO).
    """

    def __init__(self, weight=1.0, pred_act=False, eps=1e-3, naive_dice=True):
        self.weight = weight
        self.pred_act = pred_act
        self.eps = eps
        self.naive_dice = naive_dice

    def binary_mask_dice_loss(self, mask_preds, gt_masks):
        """(N, *) and (M, *) masks -> (N, M) dice loss."""
        pred = mask_preds.flatten(1)
        gt = gt_masks.flatten(1).float()
        numerator = 2 * pred @ gt.T
        power = 1 if self.naive_dice else 2
        denominator = (
            pred.pow(power).sum(1)[:, None] + gt.pow(power).sum(1)[None, :]
        )
        return 1 - (numerator + self.eps) / (denominator + self.eps)

    def __call__(self, mask_preds, gt_masks):
        if self.pred_act:
            mask_preds = mask_preds.sigmoid()
        return self.binary_mask_dice_loss(mask_preds, gt_masks) * self.weight


@MATCH_COST.register_module()
class CrossEntropyLossCost:
    """Binary cross entropy between (N, *) logits and (M, *) binary
    targets, averaged over the elements. Only ``use_sigmoid=True``."""

    def __init__(self, weight=1.0, use_sigmoid=True):
        if not use_sigmoid:
            raise InvalidArgumentError(
                'CrossEntropyLossCost: only use_sigmoid=True is supported'
            )
        self.weight = weight
        self.use_sigmoid = use_sigmoid

    def __call__(self, cls_pred, gt_labels):
        logits = cls_pred.flatten(1).float()
        pos = F.binary_cross_entropy_with_logits(
            logits, torch.ones_like(logits), reduction='none'
        )
        neg = F.binary_cross_entropy_with_logits(
            logits, torch.zeros_like(logits), reduction='none'
        )
        return _pairwise_sum(pos, neg, gt_labels) * self.weight
