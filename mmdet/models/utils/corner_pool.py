"""Corner pooling (CornerNet, Law & Deng, 2018) in plain PyTorch.

mmcv-full's ``CornerPool`` is a compiled op; with torch >= 1.5 it computes
the same running maximum with ``torch.cummax``, which is what this module
does (no parameters, so no state-dict keys)."""

import torch
import torch.nn as nn

from mmdet.utils.arg_errors import InvalidArgumentError

# mode -> (dim, reversed): 'top' pools everything below a position (the
# running maximum from the bottom edge upwards), 'left' everything to its
# right; 'bottom' and 'right' the opposite
_DIM_FLIP = {
    'bottom': (2, False),
    'left': (3, True),
    'right': (3, False),
    'top': (2, True),
}


def corner_pool(x, mode):
    """(B, C, H, W) -> running maximum along ``mode``'s direction."""
    dim, flip = _DIM_FLIP[mode]
    if flip:
        x = x.flip(dim)
    pooled = torch.cummax(x, dim=dim)[0]
    return pooled.flip(dim) if flip else pooled


class CornerPool(nn.Module):
    """Corner pooling, mmcv's ``CornerPool(mode)``.

    Args:
        mode (str): 'top', 'bottom', 'left' or 'right'.
    """

    def __init__(self, mode):
        super().__init__()
        if mode not in _DIM_FLIP:
            raise InvalidArgumentError(
                f'CornerPool: mode must be one of {sorted(_DIM_FLIP)}, '
                f'got {mode!r}'
            )
        self.mode = mode

    def forward(self, x):
        return corner_pool(x, self.mode)

    def extra_repr(self):
        return f'mode={self.mode!r}'
