"""Balanced L1 loss (Pang et al., Libra R-CNN, 2019)."""

import math

import torch

from mmdet.utils.arg_errors import InvalidArgumentError
from ..builder import LOSSES
from ._base import WeightedLoss
from .utils import weighted_loss


@weighted_loss
def balanced_l1_loss(pred, target, beta=1.0, alpha=0.5, gamma=1.5):
    """Element-wise balanced L1 of ``d = |pred - target|``:
    ``alpha / b * (b*d + 1) * log(b*d/beta + 1) - alpha*d`` below ``beta``,
    ``gamma*d + gamma/b - alpha*beta`` above, with
    ``b = exp(gamma / alpha) - 1`` so both pieces meet at ``beta``."""
    if beta <= 0:
        raise InvalidArgumentError(f'beta must be positive, got {beta}')
    if target.numel() == 0:
        return pred.sum() * 0
    assert pred.size() == target.size()
    d = torch.abs(pred - target)
    b = math.exp(gamma / alpha) - 1
    inner = alpha / b * (b * d + 1) * torch.log(b * d / beta + 1) - alpha * d
    outer = gamma * d + gamma / b - alpha * beta
    return torch.where(d < beta, inner, outer)


@LOSSES.register_module()
class BalancedL1Loss(WeightedLoss):
    """Balanced L1 loss (:func:`balanced_l1_loss`).

    Args:
        alpha (float): scale of the small-error (log) part.
        gamma (float): slope of the large-error (linear) part.
        beta (float): where the two parts meet.
        reduction (str): 'none', 'mean' or 'sum'.
        loss_weight (float): multiplies the loss.
    """

    def __init__(
        self, alpha=0.5, gamma=1.5, beta=1.0, reduction='mean', loss_weight=1.0
    ):
        super().__init__(reduction, loss_weight)
        self.alpha = alpha
        self.gamma = gamma
        self.beta = beta

    def forward(
        self,
        pred,
        target,
        weight=None,
        avg_factor=None,
        reduction_override=None,
        **kwargs,
    ):
        """Loss of ``pred`` against an equal-shaped ``target``."""
        return self.loss_weight * balanced_l1_loss(
            pred,
            target,
            weight,
            alpha=self.alpha,
            gamma=self.gamma,
            beta=self.beta,
            reduction=self._reduction(reduction_override),
            avg_factor=avg_factor,
            **kwargs,
        )
