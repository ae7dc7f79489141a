"""Varifocal loss (Zhang et al., VarifocalNet, 2021)."""

import torch.nn.functional as F

from mmdet.utils.arg_errors import InvalidArgumentError
from ..builder import LOSSES
from ._base import WeightedLoss
from .utils import weight_reduce_loss


def varifocal_loss(
    pred,
    target,
    weight=None,
    alpha=0.75,
    gamma=2.0,
    iou_weighted=True,
    reduction='mean',
    avg_factor=None,
):
    """BCE of logits (N, C) against IoU-valued targets (N, C): positives
    (target > 0) weighted by their target (or 1 without ``iou_weighted``),
    negatives by ``alpha * |p - target|**gamma``."""
    assert pred.size() == target.size()
    target = target.type_as(pred)
    pos = (target > 0).float()
    neg_weight = alpha * (pred.sigmoid() - target).abs().pow(gamma)
    pos_weight = target if iou_weighted else 1.0
    focal_weight = pos_weight * pos + neg_weight * (1 - pos)
    loss = F.binary_cross_entropy_with_logits(pred, target, reduction='none')
    return weight_reduce_loss(
        loss * focal_weight, weight, reduction, avg_factor
    )


@LOSSES.register_module()
class VarifocalLoss(WeightedLoss):
    """Varifocal loss (:func:`varifocal_loss`).

    Args:
        use_sigmoid (bool): only True is supported.
        alpha (float): weight of the negatives, >= 0.
        gamma (float): exponent of the negatives' modulating factor.
        iou_weighted (bool): weight positives by their IoU target.
        reduction (str): 'none', 'mean' or 'sum'.
        loss_weight (float): multiplies the loss.
    """

    def __init__(
        self,
        use_sigmoid=True,
        alpha=0.75,
        gamma=2.0,
        iou_weighted=True,
        reduction='mean',
        loss_weight=1.0,
    ):
        super().__init__(reduction, loss_weight)
        if use_sigmoid is not True:
            raise InvalidArgumentError('VarifocalLoss needs use_sigmoid')
        if alpha < 0:
            raise InvalidArgumentError(f'alpha must be >= 0, got {alpha}')
        self.use_sigmoid = use_sigmoid
        self.alpha = alpha
        self.gamma = gamma
        self.iou_weighted = iou_weighted

    def forward(
        self,
        pred,
        target,
        weight=None,
        avg_factor=None,
        reduction_override=None,
    ):
        """Loss of logits (N, C) against IoU targets (N, C)."""
        return self.loss_weight * varifocal_loss(
            pred,
            target,
            weight,
            alpha=self.alpha,
            gamma=self.gamma,
            iou_weighted=self.iou_weighted,
            reduction=self._reduction(reduction_override),
            avg_factor=avg_factor,
        )
