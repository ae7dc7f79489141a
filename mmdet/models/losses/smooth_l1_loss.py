"""L1 and smooth-L1 box regression losses."""

import torch

from mmdet.utils.arg_errors import InvalidArgumentError
from ..builder import LOSSES
from ._base import WeightedLoss
from .utils import weighted_loss


@weighted_loss
def smooth_l1_loss(pred, target, beta=1.0):
    """Element-wise smooth L1 (Huber) loss.

    ``0.5 * d**2 / beta`` where ``d = |pred - target| < beta``, else
    ``d - 0.5 * beta``. Shapes of ``pred`` and ``target`` are equal, e.g.
    (N, 4) box deltas.
    """
    if beta <= 0:
        raise InvalidArgumentError(f'beta must be positive, got {beta}')
    if target.numel() == 0:
        return pred.sum() * 0
    assert pred.size() == target.size()
    diff = torch.abs(pred - target)
    return torch.where(
        diff < beta, 0.5 * diff * diff / beta, diff - 0.5 * beta
    )


@weighted_loss
def l1_loss(pred, target):
    """Element-wise absolute difference of equal-shaped tensors."""
    if target.numel() == 0:
        return pred.sum() * 0
    assert pred.size() == target.size()
    return torch.abs(pred - target)


@LOSSES.register_module()
class SmoothL1Loss(WeightedLoss):
    """Smooth L1 loss (see :func:`smooth_l1_loss`).

    Args:
        beta (float): where the loss turns from quadratic to linear.
        reduction (str): 'none', 'mean' or 'sum'.
        loss_weight (float): multiplies the loss.
    """

    def __init__(self, beta=1.0, reduction='mean', loss_weight=1.0):
        super().__init__(reduction, loss_weight)
        self.beta = beta

    def forward(
        self,
        pred,
        target,
        weight=None,
        avg_factor=None,
        reduction_override=None,
    ):
        """Loss of ``pred`` against ``target``, both (N, 4) typically."""
        return self.loss_weight * smooth_l1_loss(
            pred,
            target,
            weight,
            beta=self.beta,
            reduction=self._reduction(reduction_override),
            avg_factor=avg_factor,
        )


@LOSSES.register_module()
class L1Loss(WeightedLoss):
    """L1 loss (see :func:`l1_loss`).

    Args:
        reduction (str): 'none', 'mean' or 'sum'.
        loss_weight (float): multiplies the loss.
    """

    def forward(
        self,
        pred,
        target,
        weight=None,
        avg_factor=None,
        reduction_override=None,
    ):
        """Loss of ``pred`` against ``target``, both (N, 4) typically."""
        return self.loss_weight * l1_loss(
            pred,
            target,
            weight,
            reduction=self._reduction(reduction_override),
            avg_factor=avg_factor,
        )
