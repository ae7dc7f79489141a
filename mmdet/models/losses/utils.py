"""Reducing element-wise losses to what the heads log.

A loss function here first computes one value per element (``reduction``
'none'), then :func:`weight_reduce_loss` multiplies by optional per-element
weights and reduces: a plain mean or sum, or a sum divided by ``avg_factor``
(the number of samples the loss stands for, e.g. the sampled anchors).
"""

import functools

import torch


def reduce_loss(loss, reduction):
    """Reduce ``loss`` with ``reduction`` in {'none', 'mean', 'sum'}."""
    if reduction == 'none':
        return loss
    if reduction == 'mean':
        return loss.mean()
    if reduction == 'sum':
        return loss.sum()
    raise ValueError(
        f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}"
    )


def weight_reduce_loss(loss, weight=None, reduction='mean', avg_factor=None):
    """Weight an element-wise loss, then reduce it.

    Args:
        loss (Tensor): element-wise loss.
        weight (Tensor, optional): broadcastable to ``loss``.
        reduction (str): 'none', 'mean' or 'sum'.
        avg_factor (float, optional): with 'mean', the loss is
            ``loss.sum() / avg_factor`` instead of ``loss.mean()``. It
            cannot be combined with 'sum'.
    """
    if weight is not None:
        loss = loss * weight
    if avg_factor is None:
        return reduce_loss(loss, reduction)
    if reduction == 'mean':
        # eps keeps an avg_factor of 0 (no samples) finite
        eps = torch.finfo(torch.float32).eps
        return loss.sum() / (avg_factor + eps)
    if reduction == 'none':
        return loss
    raise ValueError('avg_factor can not be used with reduction="sum"')


def weighted_loss(loss_func):
    """Turn an element-wise ``loss_func(pred, target, **kw)`` into one with
    ``weight``, ``reduction`` and ``avg_factor`` arguments.

    The decorated function has the signature
    ``loss_func(pred, target, weight=None, reduction='mean',
    avg_factor=None, **kwargs)``.
    """

    @functools.wraps(loss_func)
    def wrapper(
        pred, target, weight=None, reduction='mean', avg_factor=None, **kwargs
    ):
        loss = loss_func(pred, target, **kwargs)
        return weight_reduce_loss(loss, weight, reduction, avg_factor)

    return wrapper
