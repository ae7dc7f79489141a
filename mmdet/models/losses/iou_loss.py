"""IoU-based box regression losses (IoU, GIoU, DIoU, CIoU, bounded IoU),
boxes as x1y1x2y2."""

import math
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


def _iou_and_center_term(pred, target, eps):
    """IoU (N,) of aligned boxes and the squared center distance over the
    squared diagonal of their enclosing box (N,)."""
    wh = (
        torch.min(pred[:, 2:], target[:, 2:])
        - torch.max(pred[:, :2], target[:, :2])
    ).clamp(min=0)
    overlap = wh[:, 0] * wh[:, 1]
    area_p = (pred[:, 2] - pred[:, 0]) * (pred[:, 3] - pred[:, 1])
    area_t = (target[:, 2] - target[:, 0]) * (target[:, 3] - target[:, 1])
    ious = overlap / (area_p + area_t - overlap + eps)
    enclose = (
        torch.max(pred[:, 2:], target[:, 2:])
        - torch.min(pred[:, :2], target[:, :2])
    ).clamp(min=0)
    c2 = enclose[:, 0] ** 2 + enclose[:, 1] ** 2 + eps
    center_shift = (target[:, :2] + target[:, 2:]) - (
        pred[:, :2] + pred[:, 2:]
    )
    rho2 = (center_shift**2).sum(dim=1) / 4
    return ious, rho2 / c2


@weighted_loss
def diou_loss(pred, target, eps=1e-7):
    """Element-wise ``1 - DIoU`` of aligned (N, 4) boxes (Zheng et al.,
    2020): IoU minus the normalized squared center distance."""
    ious, center_term = _iou_and_center_term(pred, target, eps)
    return 1 - (ious - center_term)


@weighted_loss
def ciou_loss(pred, target, eps=1e-7):
    """Element-wise ``1 - CIoU`` of aligned (N, 4) boxes: DIoU minus
    ``alpha * v``, ``v`` the aspect-ratio gap, ``alpha`` (no gradient)
    nonzero only where IoU > 0.5; CIoU is clamped to [-1, 1]."""
    ious, center_term = _iou_and_center_term(pred, target, eps)
    w1 = pred[:, 2] - pred[:, 0]
    h1 = pred[:, 3] - pred[:, 1] + eps
    w2 = target[:, 2] - target[:, 0]
    h2 = target[:, 3] - target[:, 1] + eps
    v = (4 / math.pi**2) * (torch.atan(w2 / h2) - torch.atan(w1 / h1)) ** 2
    with torch.no_grad():
        alpha = (ious > 0.5).float() * v / (1 - ious + v)
    cious = ious - (center_term + alpha * v)
    return 1 - cious.clamp(min=-1.0, max=1.0)


def _center_size(boxes):
    """(N, 4) x1y1x2y2 -> centers x, y and sizes w, h, each (N,)."""
    cx = (boxes[:, 0] + boxes[:, 2]) * 0.5
    cy = (boxes[:, 1] + boxes[:, 3]) * 0.5
    return cx, cy, boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]


@weighted_loss
def bounded_iou_loss(pred, target, beta=0.2, eps=1e-3):
    """Bounded IoU loss (Tychsen-Smith & Petersson, 2018) of aligned (N, 4)
    boxes: for each of x, y, w, h the IoU bound one coordinate allows,
    ``1 - bound`` smoothed like smooth L1 with ``beta``. Returns (N, 4)."""
    pcx, pcy, pw, ph = _center_size(pred)
    with torch.no_grad():
        tcx, tcy, tw, th = _center_size(target)
    dx = (tcx - pcx).abs()
    dy = (tcy - pcy).abs()
    zero = torch.zeros_like(dx)
    loss_dx = 1 - torch.max((tw - 2 * dx) / (tw + 2 * dx + eps), zero)
    loss_dy = 1 - torch.max((th - 2 * dy) / (th + 2 * dy + eps), zero)
    loss_dw = 1 - torch.min(tw / (pw + eps), pw / (tw + eps))
    loss_dh = 1 - torch.min(th / (ph + eps), ph / (th + eps))
    loss = torch.stack([loss_dx, loss_dy, loss_dw, loss_dh], dim=-1)
    return torch.where(
        loss < beta, 0.5 * loss * loss / beta, loss - 0.5 * beta
    )


class _BoxLoss(nn.Module):
    """Weighting shared by the IoU losses: a per-coordinate (N, 4) weight
    becomes its mean per box; all-zero weights give a zero loss that still
    keeps the graph. A subclass names its weighted loss function
    (``loss_fn``, called with ``eps``) or overrides ``_loss``."""

    loss_fn = None

    def __init__(self, eps=1e-6, reduction='mean', loss_weight=1.0):
        super().__init__()
        self.eps = eps
        self.reduction = reduction
        self.loss_weight = loss_weight

    def _prepare(self, pred, weight, reduction_override):
        assert reduction_override in (None, 'none', 'mean', 'sum')
        reduction = reduction_override or self.reduction
        # unreduced losses keep one value per box even when all are zero
        no_weight = weight is not None and not torch.any(weight > 0)
        if no_weight and reduction != 'none':
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

    def _loss(self, pred, target, weight, **kwargs):
        return type(self).loss_fn(pred, target, weight, eps=self.eps, **kwargs)

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

    loss_fn = staticmethod(giou_loss)


@LOSSES.register_module()
class DIoULoss(_BoxLoss):
    """Distance-IoU loss (:func:`diou_loss`).

    Args:
        eps (float): guards the divisions.
        reduction (str): 'none', 'mean' or 'sum'.
        loss_weight (float): multiplies the loss.
    """

    loss_fn = staticmethod(diou_loss)


@LOSSES.register_module()
class CIoULoss(_BoxLoss):
    """Complete-IoU loss (:func:`ciou_loss`).

    Args:
        eps (float): guards the divisions.
        reduction (str): 'none', 'mean' or 'sum'.
        loss_weight (float): multiplies the loss.
    """

    loss_fn = staticmethod(ciou_loss)


@LOSSES.register_module()
class BoundedIoULoss(_BoxLoss):
    """Bounded IoU loss (:func:`bounded_iou_loss`); its loss is (N, 4), so
    a per-coordinate weight applies as it is.

    Args:
        beta (float): where the smoothing turns linear.
        eps (float): guards the divisions.
        reduction (str): 'none', 'mean' or 'sum'.
        loss_weight (float): multiplies the loss.
    """

    def __init__(self, beta=0.2, eps=1e-3, reduction='mean', loss_weight=1.0):
        super().__init__(eps, reduction, loss_weight)
        self.beta = beta

    def _prepare(self, pred, weight, reduction_override):
        assert reduction_override in (None, 'none', 'mean', 'sum')
        reduction = reduction_override or self.reduction
        # unreduced losses keep one value per box even when all are zero
        no_weight = weight is not None and not torch.any(weight > 0)
        if no_weight and reduction != 'none':
            if pred.dim() == weight.dim() + 1:
                weight = weight.unsqueeze(1)
            return reduction, weight, (pred * weight).sum()
        return reduction, weight, None

    def _loss(self, pred, target, weight, **kwargs):
        return bounded_iou_loss(
            pred, target, weight, beta=self.beta, eps=self.eps, **kwargs
        )
