"""Common constructor and reduction choice of the weighted losses."""

from torch import nn

REDUCTIONS = (None, 'none', 'mean', 'sum')


class WeightedLoss(nn.Module):
    """Holds ``reduction`` and ``loss_weight``; subclasses call
    :meth:`_reduction` to honour ``reduction_override``."""

    def __init__(self, reduction='mean', loss_weight=1.0):
        super().__init__()
        self.reduction = reduction
        self.loss_weight = loss_weight

    def _reduction(self, reduction_override):
        assert reduction_override in REDUCTIONS
        return reduction_override or self.reduction
