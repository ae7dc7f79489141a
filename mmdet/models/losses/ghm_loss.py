"""Gradient Harmonizing Mechanism losses (Li et al., 2019): each element's
loss is divided by how many elements share its gradient norm."""

import torch
import torch.nn.functional as F

from ..builder import LOSSES
from ._base import WeightedLoss
from .utils import weight_reduce_loss


def _expand_onehot_labels(labels, label_weights, label_channels):
    """Labels (N,) -> one-hot (N, C) (background rows all zero) and the
    label weights (N,) broadcast to (N, C)."""
    one_hot = labels.new_zeros((labels.size(0), label_channels))
    fg = (labels >= 0) & (labels < label_channels)
    one_hot[fg, labels[fg]] = 1
    weights = label_weights.view(-1, 1).expand(-1, label_channels)
    return one_hot, weights


class _GHM(WeightedLoss):
    """Histogram of gradient norms in ``bins`` equal bins of [0, 1]; with
    ``momentum > 0`` the bin counts are running averages (``acc_sum``)."""

    def __init__(self, bins, momentum, last_edge, loss_weight, reduction):
        super().__init__(reduction, loss_weight)
        self.bins = bins
        self.momentum = momentum
        edges = torch.arange(bins + 1).float() / bins
        edges[-1] = last_edge
        self.register_buffer('edges', edges)
        if momentum > 0:
            self.register_buffer('acc_sum', torch.zeros(bins))

    def _density_weights(self, g, valid, tot):
        """Weight ``tot / (count of the bin) / (non-empty bins)`` for every
        valid element of ``g``; 0 elsewhere."""
        weights = torch.zeros_like(g)
        mmt, n = self.momentum, 0
        for i in range(self.bins):
            inds = (g >= self.edges[i]) & (g < self.edges[i + 1]) & valid
            count = inds.sum().item()
            if count == 0:
                continue
            n += 1
            if mmt > 0:
                self.acc_sum[i] = mmt * self.acc_sum[i] + (1 - mmt) * count
                count = self.acc_sum[i]
            weights[inds] = tot / count
        return weights / n if n > 0 else weights


@LOSSES.register_module()
class GHMC(_GHM):
    """GHM classification loss: sigmoid BCE reweighted by the density of
    ``|sigmoid(pred) - target|``.

    Args:
        bins (int): histogram bins.
        momentum (float): running-average factor of the bin counts.
        use_sigmoid (bool): only True is supported.
        loss_weight (float): multiplies the loss.
        reduction (str): 'none', 'mean' or 'sum'.
    """

    def __init__(
        self,
        bins=10,
        momentum=0,
        use_sigmoid=True,
        loss_weight=1.0,
        reduction='mean',
    ):
        super().__init__(bins, momentum, 1.0 + 1e-6, loss_weight, reduction)
        if not use_sigmoid:
            raise NotImplementedError('GHMC supports only use_sigmoid=True')
        self.use_sigmoid = use_sigmoid

    def forward(
        self, pred, target, label_weight, reduction_override=None, **kwargs
    ):
        """Loss of logits (N, C) against labels (N,) or binary (N, C)
        targets; ``label_weight`` (N,) or (N, C) marks valid entries."""
        reduction = self._reduction(reduction_override)
        if pred.dim() != target.dim():
            target, label_weight = _expand_onehot_labels(
                target, label_weight, pred.size(-1)
            )
        target, label_weight = target.float(), label_weight.float()
        valid = label_weight > 0
        tot = max(valid.float().sum().item(), 1.0)
        g = torch.abs(pred.sigmoid().detach() - target)
        weights = self._density_weights(g, valid, tot)
        loss = F.binary_cross_entropy_with_logits(
            pred, target, reduction='none'
        )
        loss = weight_reduce_loss(loss, weights, reduction, avg_factor=tot)
        return loss * self.loss_weight


@LOSSES.register_module()
class GHMR(_GHM):
    """GHM regression loss: authentic smooth L1 ``sqrt(d**2 + mu**2) - mu``
    reweighted by the density of its gradient norm ``|d| / sqrt(d**2 +
    mu**2)``.

    Args:
        mu (float): smoothness of the loss near 0.
        bins (int): histogram bins.
        momentum (float): running-average factor of the bin counts.
        loss_weight (float): multiplies the loss.
        reduction (str): 'none', 'mean' or 'sum'.
    """

    def __init__(
        self, mu=0.02, bins=10, momentum=0, loss_weight=1.0, reduction='mean'
    ):
        super().__init__(bins, momentum, 1e3, loss_weight, reduction)
        self.mu = mu

    def forward(
        self,
        pred,
        target,
        label_weight,
        avg_factor=None,
        reduction_override=None,
    ):
        """Loss of (N, 4) deltas against (N, 4) targets; ``label_weight``
        (N, 4) marks valid entries. ``avg_factor`` is ignored: the loss
        is averaged over the total label weight."""
        reduction = self._reduction(reduction_override)
        mu = self.mu
        diff = pred - target
        root = torch.sqrt(diff * diff + mu * mu)
        loss = root - mu
        g = torch.abs(diff / root).detach()
        tot = max(label_weight.float().sum().item(), 1.0)
        weights = self._density_weights(g, label_weight > 0, tot)
        loss = weight_reduce_loss(loss, weights, reduction, avg_factor=tot)
        return loss * self.loss_weight
