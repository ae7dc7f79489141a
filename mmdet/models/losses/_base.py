"""Common constructor and reduction choice of the weighted losses."""

from torch import nn

from mmdet.utils.arg_errors import InvalidArgumentError

REDUCTIONS = (None, 'none', 'mean', 'sum')


class WeightedLoss(nn.Module):
    """Holds ``reduction`` and ``loss_weight``; subclasses call
    :meth:`_reduction` to honour ``reduction_override``."""

    def __init__(self, reduction='mean', loss_weight=1.0):
        super().__init__()
        self.reduction = reduction
        self.loss_weight = loss_weight

    def _reduction(self, reduction_override):
        if reduction_override not in REDUCTIONS:
            raise InvalidArgumentError(
                f'reduction_override must be one of {REDUCTIONS}, '
                f'got {reduction_override!r}'
            )
        return reduction_override or self.reduction
