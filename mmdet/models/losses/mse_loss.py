"""Mean squared error loss."""

import torch.nn as nn

from ..builder import LOSSES
from .utils import weighted_loss


@weighted_loss
def mse_loss(pred, target):
    """Element-wise ``(pred - target) ** 2`` of equal-shaped tensors."""
    return (pred - target) ** 2


@LOSSES.register_module()
class MSELoss(nn.Module):
    """Weighted mean squared error.

    Args:
        reduction (str): 'none', 'mean' or 'sum'.
        loss_weight (float): multiplies the loss.
    """

    def __init__(self, reduction='mean', loss_weight=1.0):
        super().__init__()
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(
        self,
        pred,
        target,
        weight=None,
        avg_factor=None,
        reduction_override=None,
    ):
        assert reduction_override in (None, 'none', 'mean', 'sum')
        reduction = reduction_override or self.reduction
        return self.loss_weight * mse_loss(
            pred, target, weight, reduction=reduction, avg_factor=avg_factor
        )
