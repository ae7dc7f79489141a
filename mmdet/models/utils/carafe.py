"""CARAFE: content-aware reassembly of features (Wang et al., 2019), in
PyTorch, with mmcv 1.x's names (``mmcv.ops.CARAFEPack``, which needs
mmcv-full); registered as 'carafe' in mmcv's UPSAMPLE_LAYERS when mmcv-full
has not done so."""

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import UPSAMPLE_LAYERS, normal_init, xavier_init

from mmdet.utils.arg_errors import check_arg


def carafe(features, masks, kernel_size, group_size, scale_factor):
    """Reassemble ``features`` with per-pixel kernels.

    out[n, c, y, x] = sum over the k x k window of features centred at
    (y // s, x // s) (zeros outside) weighted by masks[n, g*k*k + i, y, x],
    g = c // (C / group_size), i the window position (row-major).

    Args:
        features: (N, C, h, w).
        masks: (N, group_size * k * k, h * s, w * s).
    Returns:
        (N, C, h * s, w * s).
    """
    n, c, h, w = features.shape
    k, g, s = kernel_size, group_size, scale_factor
    check_arg(
        k % 2 == 1 and c % g == 0,
        'carafe',
        f'kernel_size ({k}) must be odd and channels ({c}) divisible by '
        f'group_size ({g})',
    )
    windows = F.unfold(features, k, padding=(k - 1) // 2)
    windows = windows.view(n, g, c // g, k * k, h, w)
    masks = masks.view(n, g, k * k, h, s, w, s)
    out = torch.einsum('ngckyx,ngkyixj->ngcyixj', windows, masks)
    return out.reshape(n, c, h * s, w * s)


class CARAFEPack(nn.Module):
    """Channel compressor (1x1 conv), content encoder (conv predicting
    ``up_group * up_kernel**2`` kernels per output pixel, laid out by pixel
    shuffle), softmax over each kernel, then :func:`carafe`.

    Args:
        channels (int): input channels.
        scale_factor (int): upsampling ratio.
        up_kernel (int): reassembly kernel size (odd).
        up_group (int): channel groups sharing one kernel.
        encoder_kernel, encoder_dilation (int): of the content encoder.
        compressed_channels (int): channels after the compressor.

    (N, channels, h, w) -> (N, channels, h * s, w * s).
    """

    def __init__(
        self,
        channels,
        scale_factor,
        up_kernel=5,
        up_group=1,
        encoder_kernel=3,
        encoder_dilation=1,
        compressed_channels=64,
    ):
        super().__init__()
        self.channels = channels
        self.scale_factor = scale_factor
        self.up_kernel = up_kernel
        self.up_group = up_group
        self.encoder_kernel = encoder_kernel
        self.encoder_dilation = encoder_dilation
        self.compressed_channels = compressed_channels
        self.channel_compressor = nn.Conv2d(channels, compressed_channels, 1)
        self.content_encoder = nn.Conv2d(
            compressed_channels,
            up_kernel * up_kernel * up_group * scale_factor * scale_factor,
            encoder_kernel,
            padding=int((encoder_kernel - 1) * encoder_dilation / 2),
            dilation=encoder_dilation,
        )
        self.init_weights()

    def init_weights(self):
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                xavier_init(m, distribution='uniform')
        normal_init(self.content_encoder, std=0.001)

    def kernel_normalizer(self, mask):
        """(N, G*k*k*s*s, h, w) -> softmax-normalised (N, G*k*k, h*s, w*s)."""
        mask = F.pixel_shuffle(mask, self.scale_factor)
        n, mask_c, h, w = mask.shape
        mask = mask.view(n, mask_c // self.up_kernel**2, -1, h, w)
        return F.softmax(mask, dim=2).view(n, mask_c, h, w)

    def feature_reassemble(self, x, mask):
        return carafe(
            x, mask, self.up_kernel, self.up_group, self.scale_factor
        )

    def forward(self, x):
        mask = self.content_encoder(self.channel_compressor(x))
        return self.feature_reassemble(x, self.kernel_normalizer(mask))


if 'carafe' not in UPSAMPLE_LAYERS.module_dict:
    UPSAMPLE_LAYERS.register_module('carafe', module=CARAFEPack)
