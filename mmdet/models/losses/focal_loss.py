"""Sigmoid focal loss (Lin et al., "Focal Loss for Dense Object Detection").

The arithmetic is torchvision's ``sigmoid_focal_loss`` on one-hot targets;
this module adds MMDetection's label convention (index ``num_classes`` is
background), weights and reductions.
"""

import torch.nn as nn
import torch.nn.functional as F
from torchvision.ops import sigmoid_focal_loss as tv_sigmoid_focal_loss

from ..builder import LOSSES
from .utils import weight_reduce_loss


def _one_hot(labels, num_classes):
    """(N,) labels in [0, num_classes] -> (N, num_classes) float targets; the
    background label ``num_classes`` gives an all-zero row."""
    return F.one_hot(labels, num_classes + 1)[:, :num_classes].float()


def sigmoid_focal_loss(
    pred,
    target,
    weight=None,
    gamma=2.0,
    alpha=0.25,
    reduction='mean',
    avg_factor=None,
):
    """Focal loss of (N, C) logits.

    Args:
        pred (Tensor): (N, C) logits.
        target (Tensor): (N,) labels (``C`` = background) or (N, C) binary
            targets.
        weight (Tensor, optional): (N,) per-sample or (N, C) weights.
        gamma (float): focusing parameter.
        alpha (float): weight of the positive term (1 - alpha: negative).
        reduction (str): 'none', 'mean' or 'sum'.
        avg_factor (float, optional): divisor of the summed loss for 'mean'.

    Returns:
        Tensor: the reduced loss ((N, C) with 'none').
    """
    if target.dim() == 1:
        target = _one_hot(target, pred.size(1))
    loss = tv_sigmoid_focal_loss(
        pred, target.type_as(pred), alpha=alpha, gamma=gamma, reduction='none'
    )
    if weight is not None and weight.dim() == 1:
        if weight.size(0) != loss.size(0):
            raise ValueError(
                f'{weight.size(0)} weights for {loss.size(0)} predictions'
            )
        weight = weight.view(-1, 1)
    return weight_reduce_loss(loss, weight, reduction, avg_factor)


@LOSSES.register_module()
class FocalLoss(nn.Module):
    """Sigmoid focal loss as a module (only ``use_sigmoid=True``).

    Args:
        use_sigmoid (bool): must be True (per-class sigmoid).
        gamma (float): focusing parameter.
        alpha (float): weight of the positive term.
        reduction (str): 'none', 'mean' or 'sum'.
        loss_weight (float): multiplies the loss.
        activated (bool): must be False (the inputs are logits).
    """

    def __init__(
        self,
        use_sigmoid=True,
        gamma=2.0,
        alpha=0.25,
        reduction='mean',
        loss_weight=1.0,
        activated=False,
    ):
        super().__init__()
        if not use_sigmoid:
            raise ValueError(
                'FocalLoss: only use_sigmoid=True is '
                'supported (softmax focal loss is not)'
            )
        if activated:
            raise ValueError(
                'FocalLoss: activated=True (probabilities as '
                'input) is not supported; pass logits'
            )
        self.use_sigmoid = use_sigmoid
        self.gamma = gamma
        self.alpha = alpha
        self.reduction = reduction
        self.loss_weight = loss_weight
        self.activated = activated

    def forward(
        self,
        pred,
        target,
        weight=None,
        avg_factor=None,
        reduction_override=None,
    ):
        """Loss of (N, C) logits against (N,) labels or (N, C) targets."""
        assert reduction_override in (None, 'none', 'mean', 'sum')
        reduction = reduction_override or self.reduction
        return self.loss_weight * sigmoid_focal_loss(
            pred,
            target,
            weight,
            gamma=self.gamma,
            alpha=self.alpha,
            reduction=reduction,
            avg_factor=avg_factor,
        )
