"""Dice loss of SOLO / SOLOv2 mask predictions (MMDetection's ``DiceLoss``)."""

from torch import nn

from mmdet.utils.arg_errors import InvalidArgumentError
from ..builder import LOSSES
from .utils import weight_reduce_loss


def dice_loss(
    pred,
    target,
    weight=None,
    eps=1e-3,
    reduction='mean',
    naive_dice=False,
    avg_factor=None,
):
    """Per-sample ``1 - dice`` of probabilities ``pred`` (n, *) and binary
    ``target`` (n, *), then weighted / reduced.

    V-Net form (default): ``2 sum(p t) / (sum(p^2) + eps + sum(t^2) + eps)``;
    naive form: ``(2 sum(p t) + eps) / (sum(p) + sum(t) + eps)``.
    """
    p = pred.flatten(1)
    t = target.flatten(1).float()
    inter = (p * t).sum(1)
    if naive_dice:
        dice = (2 * inter + eps) / (p.sum(1) + t.sum(1) + eps)
    else:
        denom = (p * p).sum(1) + eps + (t * t).sum(1) + eps
        dice = 2 * inter / denom
    loss = 1 - dice
    if weight is not None and (
        weight.ndim != loss.ndim or len(weight) != len(pred)
    ):
        raise InvalidArgumentError(
            f'dice_loss: weight must have shape ({len(pred)},), got '
            f'{tuple(weight.shape)}'
        )
    return weight_reduce_loss(loss, weight, reduction, avg_factor)


@LOSSES.register_module()
class DiceLoss(nn.Module):
    """Dice loss; ``activate`` applies the sigmoid to ``pred`` first (SOLO
    heads that already give probabilities set ``activate=False``)."""

    def __init__(
        self,
        use_sigmoid=True,
        activate=True,
        reduction='mean',
        naive_dice=False,
        loss_weight=1.0,
        eps=1e-3,
    ):
        super().__init__()
        self.use_sigmoid = use_sigmoid
        self.reduction = reduction
        self.naive_dice = naive_dice
        self.loss_weight = loss_weight
        self.eps = eps
        self.activate = activate

    def forward(
        self,
        pred,
        target,
        weight=None,
        reduction_override=None,
        avg_factor=None,
    ):
        """Loss of ``pred`` (n, *) logits or probabilities against ``target``
        (n, *) binary masks; ``weight`` (n,)."""
        if reduction_override not in (None, 'none', 'mean', 'sum'):
            raise InvalidArgumentError(
                f'DiceLoss: unknown reduction_override {reduction_override!r}'
            )
        reduction = reduction_override or self.reduction
        if self.activate:
            if not self.use_sigmoid:
                raise NotImplementedError(
                    'DiceLoss: activate=True needs use_sigmoid=True'
                )
            pred = pred.sigmoid()
        return self.loss_weight * dice_loss(
            pred,
            target,
            weight,
            eps=self.eps,
            reduction=reduction,
            naive_dice=self.naive_dice,
            avg_factor=avg_factor,
        )
