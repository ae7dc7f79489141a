"""Focal loss on a Gaussian heatmap target (CornerNet, CenterNet)."""

from ..builder import LOSSES
from ._base import WeightedLoss
from .utils import weighted_loss


@weighted_loss
def gaussian_focal_loss(pred, gaussian_target, alpha=2.0, gamma=4.0):
    """Element-wise loss of probabilities ``pred`` against a heatmap of the
    same shape: peaks (target == 1) are positives, other pixels negatives
    down-weighted by ``(1 - target)**gamma``."""
    eps = 1e-12
    pos = gaussian_target.eq(1)
    neg_weight = (1 - gaussian_target).pow(gamma)
    pos_loss = -(pred + eps).log() * (1 - pred).pow(alpha) * pos
    neg_loss = -(1 - pred + eps).log() * pred.pow(alpha) * neg_weight
    return pos_loss + neg_loss


@LOSSES.register_module()
class GaussianFocalLoss(WeightedLoss):
    """Gaussian focal loss (:func:`gaussian_focal_loss`).

    Args:
        alpha (float): exponent of the prediction's modulating factor.
        gamma (float): exponent of the negatives' target weight.
        reduction (str): 'none', 'mean' or 'sum'.
        loss_weight (float): multiplies the loss.
    """

    def __init__(
        self, alpha=2.0, gamma=4.0, reduction='mean', loss_weight=1.0
    ):
        super().__init__(reduction, loss_weight)
        self.alpha = alpha
        self.gamma = gamma

    def forward(
        self,
        pred,
        target,
        weight=None,
        avg_factor=None,
        reduction_override=None,
    ):
        """Loss of a probability map against a Gaussian heatmap."""
        return self.loss_weight * gaussian_focal_loss(
            pred,
            target,
            weight,
            alpha=self.alpha,
            gamma=self.gamma,
            reduction=self._reduction(reduction_override),
            avg_factor=avg_factor,
        )
