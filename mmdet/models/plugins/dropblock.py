"""DropBlock (Ghiasi et al., 2018) as an mmcv plugin layer."""

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import PLUGIN_LAYERS

from mmdet.utils.arg_errors import check_arg


class DropBlock(nn.Module):
    """While training, zero random ``block_size`` x ``block_size`` squares
    of each channel and rescale the rest so the mean is kept; identity in
    eval mode. (B, C, H, W) -> (B, C, H, W).

    Args:
        drop_prob (float): fraction of the map to drop, in (0, 1].
        block_size (int): odd side of the dropped squares.
        warmup_iters (int): the drop rate grows linearly from 0 to
            ``drop_prob`` over the first ``warmup_iters`` training calls.
        **kwargs: ignored (``in_channels`` from the ResNet plugin builder).
    """

    def __init__(self, drop_prob, block_size, warmup_iters=2000, **kwargs):
        super().__init__()
        check_arg(
            block_size % 2 == 1,
            'DropBlock',
            f'block_size must be odd, got {block_size}',
        )
        check_arg(
            0 < drop_prob <= 1,
            'DropBlock',
            f'drop_prob must be in (0, 1], got {drop_prob}',
        )
        check_arg(
            warmup_iters >= 0,
            'DropBlock',
            f'warmup_iters must be >= 0, got {warmup_iters}',
        )
        self.drop_prob = drop_prob
        self.block_size = block_size
        self.warmup_iters = warmup_iters
        self.iter_cnt = 0

    def _compute_gamma(self, feat_size):
        """Probability that a valid position seeds a dropped block:
        drop_prob * H * W / ((H - b + 1) * (W - b + 1) * b**2), times the
        warm-up factor."""
        h, w = feat_size
        b = self.block_size
        gamma = self.drop_prob * h * w / ((h - b + 1) * (w - b + 1) * b**2)
        warm = self.iter_cnt > self.warmup_iters
        return gamma * (1.0 if warm else self.iter_cnt / self.warmup_iters)

    def forward(self, x):
        if not self.training:
            return x
        self.iter_cnt += 1
        n, c, h, w = x.shape
        b, half = self.block_size, self.block_size // 2
        gamma = self._compute_gamma((h, w))
        seeds = torch.bernoulli(
            torch.full((n, c, h - b + 1, w - b + 1), gamma, device=x.device)
        )
        # seeds sit where a whole block fits; each grows into its block
        seeds = F.pad(seeds, [half] * 4, value=0)
        dropped = F.max_pool2d(seeds, b, stride=1, padding=half)
        keep = 1 - dropped
        return x * keep * keep.numel() / (1e-6 + keep.sum())

    def extra_repr(self):
        return (
            f'drop_prob={self.drop_prob}, block_size={self.block_size}, '
            f'warmup_iters={self.warmup_iters}'
        )


if 'DropBlock' not in PLUGIN_LAYERS.module_dict:
    PLUGIN_LAYERS.register_module(module=DropBlock)
