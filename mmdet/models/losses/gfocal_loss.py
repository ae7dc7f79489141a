"""Generalized Focal Loss (Li et al., 2020): quality focal loss for the
joint class-IoU score and distribution focal loss for box edges."""

import torch.nn.functional as F

from mmdet.utils.arg_errors import InvalidArgumentError
from ..builder import LOSSES
from ._base import WeightedLoss
from .utils import weighted_loss


def _qfl(prob, bce, target, beta):
    """QFL of probabilities (N, C) given ``bce(input_index, target)``; every
    class is pushed to 0 except the positive class, pushed to its IoU."""
    label, score = target
    loss = bce(None, prob.new_zeros(prob.shape)) * prob.pow(beta)
    pos = ((label >= 0) & (label < prob.size(1))).nonzero().squeeze(1)
    pos_label = label[pos].long()
    modulator = (score[pos] - prob[pos, pos_label]).abs().pow(beta)
    loss[pos, pos_label] = bce((pos, pos_label), score[pos]) * modulator
    return loss.sum(dim=1)


@weighted_loss
def quality_focal_loss(pred, target, beta=2.0):
    """QFL of logits (N, C); ``target`` is (labels (N,), IoU scores (N,)),
    a label of C or more meaning background. Returns (N,)."""

    def bce(idx, t):
        x = pred if idx is None else pred[idx]
        return F.binary_cross_entropy_with_logits(x, t, reduction='none')

    return _qfl(pred.sigmoid(), bce, target, beta)


@weighted_loss
def quality_focal_loss_with_prob(pred, target, beta=2.0):
    """:func:`quality_focal_loss` for probabilities (N, C)."""

    def bce(idx, t):
        x = pred if idx is None else pred[idx]
        return F.binary_cross_entropy(x, t, reduction='none')

    return _qfl(pred, bce, target, beta)


@weighted_loss
def distribution_focal_loss(pred, label):
    """DFL: cross-entropy of bin logits (N, n+1) against the two bins around
    the continuous target ``label`` (N,), weighted by closeness."""
    left = label.long()
    right = left + 1
    w_left = right.float() - label
    w_right = label - left.float()
    ce_left = F.cross_entropy(pred, left, reduction='none')
    ce_right = F.cross_entropy(pred, right, reduction='none')
    return ce_left * w_left + ce_right * w_right


@LOSSES.register_module()
class QualityFocalLoss(WeightedLoss):
    """Quality focal loss (:func:`quality_focal_loss`).

    Args:
        use_sigmoid (bool): only True is supported.
        beta (float): exponent of the modulating factor.
        reduction (str): 'none', 'mean' or 'sum'.
        loss_weight (float): multiplies the loss.
        activated (bool): ``pred`` holds probabilities, not logits.
    """

    def __init__(
        self,
        use_sigmoid=True,
        beta=2.0,
        reduction='mean',
        loss_weight=1.0,
        activated=False,
    ):
        super().__init__(reduction, loss_weight)
        if use_sigmoid is not True:
            raise InvalidArgumentError('QualityFocalLoss needs use_sigmoid')
        self.use_sigmoid = use_sigmoid
        self.beta = beta
        self.activated = activated

    def forward(
        self,
        pred,
        target,
        weight=None,
        avg_factor=None,
        reduction_override=None,
    ):
        """Loss of scores (N, C) against (labels (N,), IoUs (N,))."""
        fn = (
            quality_focal_loss_with_prob
            if self.activated
            else quality_focal_loss
        )
        return self.loss_weight * fn(
            pred,
            target,
            weight,
            beta=self.beta,
            reduction=self._reduction(reduction_override),
            avg_factor=avg_factor,
        )


@LOSSES.register_module()
class DistributionFocalLoss(WeightedLoss):
    """Distribution focal loss (:func:`distribution_focal_loss`).

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
        """Loss of bin logits (N, n+1) against distances (N,) in [0, n)."""
        return self.loss_weight * distribution_focal_loss(
            pred,
            target,
            weight,
            reduction=self._reduction(reduction_override),
            avg_factor=avg_factor,
        )
