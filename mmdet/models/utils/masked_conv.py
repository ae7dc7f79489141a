"""mmcv's ``MaskedConv2d`` on plain PyTorch (mmcv's is compiled).

Guided anchoring runs its classifier and regressor only where an object
centre is likely; outside the mask the output is 0 (not the bias).
"""

import torch.nn as nn

from mmdet.utils.arg_errors import check_arg


class MaskedConv2d(nn.Conv2d):
    """A ``nn.Conv2d`` (same arguments and state-dict keys) whose
    ``forward(x, mask)`` zeroes the output outside ``mask``.

    x (B, C_in, H, W); mask (1, H, W) bool or 0/1, or None for a plain
    conv -> (B, C_out, H, W). As mmcv, the masked form needs stride 1.
    """

    def forward(self, input, mask=None):
        if mask is None:
            return super().forward(input)
        check_arg(
            self.stride == (1, 1),
            'MaskedConv2d',
            f'a masked conv needs stride 1, got {self.stride}',
        )
        out = super().forward(input)
        check_arg(
            tuple(mask.shape[-2:]) == tuple(out.shape[-2:]),
            'MaskedConv2d',
            f'mask {tuple(mask.shape)} does not match the output '
            f'{tuple(out.shape)}',
        )
        return out * mask.reshape(1, 1, *mask.shape[-2:]).to(out.dtype)
