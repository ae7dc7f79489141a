"""Mean squared error."""

import torch.nn.functional as F

from ..builder import LOSSES
from ._base import WeightedLoss
from .utils import weighted_loss


@weighted_loss
def mse_loss(pred, target):
    """Element-wise squared difference of equal-shaped tensors."""
    return F.mse_loss(pred, target, reduction='none')


@LOSSES.register_module()
class MSELoss(WeightedLoss):
    """Squared error (:func:`mse_loss`).

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
        """Loss of ``pred`` against an equal-shaped ``target``."""
        return self.loss_weight * mse_loss(
            pred,
            target,
            weight,
            reduction=self._reduction(reduction_override),
            avg_factor=avg_factor,
        )
