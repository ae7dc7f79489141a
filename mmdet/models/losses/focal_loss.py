"""Sigmoid focal loss (Lin et al., "Focal Loss for Dense Object Detection").

The arithmetic is torchvision's ``sigmoid_focal_loss`` on one-hot targets;
this module adds MMDetection's label convention (index ``num_classes`` is
background), weights and reductions.
"""

import torch.nn as nn
import torch.nn.functional as F
from torchvision.ops import sigmoid_focal_loss as tv_sigmoid_focal_loss

from mmdet.utils.arg_errors import InvalidArgumentError
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
    return _reduce(loss, weight, reduction, avg_factor)


def focal_loss_with_prob(
    pred,
    target,
    weight=None,
    gamma=2.0,
    alpha=0.25,
    reduction='mean',
    avg_factor=None,
):
    """Focal loss of (N, C) probabilities (already through a sigmoid):
    ``-alpha_t * (1 - p_t) ** gamma * log(p_t)``, with ``p_t`` the
    probability of the target and ``alpha_t`` alpha on positives, 1 - alpha
    on negatives. Arguments as ``sigmoid_focal_loss``."""
    if target.dim() == 1:
        target = _one_hot(target, pred.size(1))
    target = target.type_as(pred)
    p_t = pred * target + (1 - pred) * (1 - target)
    alpha_t = alpha * target + (1 - alpha) * (1 - target)
    bce = F.binary_cross_entropy(pred, target, reduction='none')
    loss = alpha_t * (1 - p_t).pow(gamma) * bce
    return _reduce(loss, weight, reduction, avg_factor)


def _reduce(loss, weight, reduction, avg_factor):
    """Weight the (N, C) loss by (N,) or (N, C) ``weight`` and reduce."""
    if weight is not None and weight.dim() == 1:
        if weight.size(0) != loss.size(0):
            raise InvalidArgumentError(
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
        activated (bool): the inputs are probabilities (already through a
            sigmoid) instead of logits.
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
            raise InvalidArgumentError(
                'FocalLoss: only use_sigmoid=True is '
                'supported (softmax focal loss is not)'
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
        """Loss of (N, C) logits (probabilities with ``activated``) against
        (N,) labels or (N, C) targets."""
        assert reduction_override in (None, 'none', 'mean', 'sum')
        reduction = reduction_override or self.reduction
        loss = focal_loss_with_prob if self.activated else sigmoid_focal_loss
        return self.loss_weight * loss(
            pred,
            target,
            weight,
            gamma=self.gamma,
            alpha=self.alpha,
            reduction=reduction,
            avg_factor=avg_factor,
        )
