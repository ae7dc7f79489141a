"""IoU-based box regression losses (IoU, GIoU), boxes as x1y1x2y2."""

import warnings

import torch
import torch.nn as nn

from mmdet.core import bbox_overlaps
from mmdet.utils.arg_errors import InvalidArgumentError
from ..builder import LOSSES
from .utils import weighted_loss

IOU_MODES = ('linear', 'square', 'log')


@weighted_loss
def iou_loss(pred, target, linear=False, mode='log', eps=1e-6):
    """Element-wise IoU loss of aligned (N, 4) boxes.

    ``mode`` 'linear': ``1 - IoU``; 'square': ``1 - IoU**2``; 'log':
    ``-log(IoU)``; the IoU is clamped at ``eps`` first. ``linear=True`` is
    the deprecated spelling of ``mode='linear'``. Returns (N,).
    """
    if linear:
        mode = 'linear'
    if mode not in IOU_MODES:
        raise InvalidArgumentError(
            f'IoU loss mode must be one of {IOU_MODES}, got {mode!r}'
        )
    ious = bbox_overlaps(pred, target, is_aligned=True).clamp(min=eps)
    if mode == 'linear':
        return 1 - ious
    if mode == 'square':
        return 1 - ious**2
    return -ious.log()


@weighted_loss
def giou_loss(pred, target, eps=1e-7):
    """Element-wise ``1 - GIoU`` of aligned (N, 4) boxes; returns (N,)."""
    gious = bbox_overlaps(pred, target, mode='giou', is_aligned=True, eps=eps)
    return 1 - gious


class _BoxLoss(nn.Module):
    """Weighting shared by the IoU losses: a per-coordinate (N, 4) weight
    becomes its mean per box; all-zero weights give a zero loss that still
    keeps the graph."""

    def __init__(self, eps, reduction, loss_weight):
        super().__init__()
        self.eps = eps
        self.reduction = reduction
        self.loss_weight = loss_weight

    def _prepare(self, pred, weight, reduction_override):
        assert reduction_override in (None, 'none', 'mean', 'sum')
        reduction = reduction_override or self.reduction
        if weight is not None and not torch.any(weight > 0):
            if pred.dim() == weight.dim() + 1:
                weight = weight.unsqueeze(1)
            return reduction, weight, (pred * weight).sum()
        if weight is not None and weight.dim() > 1:
            if weight.shape != pred.shape:
                raise InvalidArgumentError(
                    f'weight of shape {tuple(weight.shape)} '
                    f'for boxes of shape {tuple(pred.shape)}'
                )
            weight = weight.mean(-1)
        return reduction, weight, None

    def forward(
        self,
        pred,
        target,
        weight=None,
        avg_factor=None,
        reduction_override=None,
        **kwargs,
    ):
        """Loss of (N, 4) predicted boxes against (N, 4) targets."""
        reduction, weight, zero = self._prepare(
            pred, weight, reduction_override
        )
        if zero is not None:
            return zero
        return self.loss_weight * self._loss(
            pred,
            target,
            weight,
            reduction=reduction,
            avg_factor=avg_factor,
            **kwargs,
        )


@LOSSES.register_module()
class IoULoss(_BoxLoss):
    """IoU loss (:func:`iou_loss`).

    Args:
        linear (bool): deprecated, ``mode='linear'``.
        eps (float): lower clamp of the IoU.
        reduction (str): 'none', 'mean' or 'sum'.
        loss_weight (float): multiplies the loss.
        mode (str): 'linear', 'square' or 'log'.
    """

    def __init__(
        self,
        linear=False,
        eps=1e-6,
        reduction='mean',
        loss_weight=1.0,
        mode='log',
    ):
        super().__init__(eps, reduction, loss_weight)
        if mode not in IOU_MODES:
            raise InvalidArgumentError(
                f'IoULoss mode must be one of {IOU_MODES}, got {mode!r}'
            )
        if linear:
            warnings.warn(
                'DeprecationWarning: Setting "linear=True" in '
                'IOULoss is deprecated, please use "mode=`linear`" '
                'instead.'
            )
            mode = 'linear'
        self.mode = mode
        self.linear = linear

    def _loss(self, pred, target, weight, **kwargs):
        return iou_loss(
            pred, target, weight, mode=self.mode, eps=self.eps, **kwargs
        )


@LOSSES.register_module()
class GIoULoss(_BoxLoss):
    """Generalized IoU loss (:func:`giou_loss`).

    Args:
        eps (float): guards the divisions.
        reduction (str): 'none', 'mean' or 'sum'.
        loss_weight (float): multiplies the loss.
    """

    def __init__(self, eps=1e-6, reduction='mean', loss_weight=1.0):
        super().__init__(eps, reduction, loss_weight)

    def _loss(self, pred, target, weight, **kwargs):
        return giou_loss(pred, target, weight, eps=self.eps, **kwargs)
