"""Knowledge-distillation KL divergence (Hinton et al., 2015)."""

import torch.nn.functional as F

from mmdet.utils.arg_errors import InvalidArgumentError
from ..builder import LOSSES
from ._base import WeightedLoss
from .utils import weighted_loss


@weighted_loss
def knowledge_distillation_kl_div_loss(
    pred, soft_label, T, detach_target=True
):
    """``T**2 * mean_c KL(softmax(soft_label / T) || softmax(pred / T))`` of
    logits (N, C); returns (N,)."""
    assert pred.size() == soft_label.size()
    target = F.softmax(soft_label / T, dim=1)
    if detach_target:
        target = target.detach()
    log_p = F.log_softmax(pred / T, dim=1)
    return F.kl_div(log_p, target, reduction='none').mean(1) * (T * T)


@LOSSES.register_module()
class KnowledgeDistillationKLDivLoss(WeightedLoss):
    """Distillation loss (:func:`knowledge_distillation_kl_div_loss`).

    Args:
        reduction (str): 'none', 'mean' or 'sum'.
        loss_weight (float): multiplies the loss.
        T (float): softmax temperature, >= 1.
    """

    def __init__(self, reduction='mean', loss_weight=1.0, T=10):
        super().__init__(reduction, loss_weight)
        if T < 1:
            raise InvalidArgumentError(f'T must be >= 1, got {T}')
        self.T = T

    def forward(
        self,
        pred,
        soft_label,
        weight=None,
        avg_factor=None,
        reduction_override=None,
    ):
        """Loss of student logits (N, C) against teacher logits (N, C)."""
        return self.loss_weight * knowledge_distillation_kl_div_loss(
            pred,
            soft_label,
            weight,
            reduction=self._reduction(reduction_override),
            avg_factor=avg_factor,
            T=self.T,
        )
