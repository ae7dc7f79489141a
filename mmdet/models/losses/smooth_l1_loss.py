"""L1 and smooth-L1 box regression losses."""

import torch
from torch import nn

from mmdet.utils.arg_errors import InvalidArgumentError
from ..builder import LOSSES
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


class _RegressionLoss(nn.Module):
    """Common forward of the weighted regression losses below."""

    def __init__(self, reduction='mean', loss_weight=1.0):
        super().__init__()
        self.reduction = reduction
        self.loss_weight = loss_weight

    def _reduction(self, reduction_override):
        assert reduction_override in (None, 'none', 'mean', 'sum')
        return reduction_override if reduction_override else self.reduction


@LOSSES.register_module()
class SmoothL1Loss(_RegressionLoss):
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
class L1Loss(_RegressionLoss):
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
