"""VGG backbone of SSD (MMDetection 2.x names and layout).

mmcv's ``VGG`` (``features.N``: 3x3 convs with ReLU, 2x2 max pools with
``ceil_mode``) without its last pool, extended as in the SSD paper by
``pool5`` (3x3, stride 1), ``fc6`` as a 3x3 conv of dilation 6 (1024
channels) and ``fc7`` as a 1x1 conv, each followed by ReLU. For VGG-16 the
outputs at ``features.22`` (conv4_3 + ReLU, stride 8, 512 channels) and
``features.34`` (fc7 + ReLU, stride 16, 1024 channels) feed the neck. As in
MMDetection 2.28 the extra layers and the L2 normalisation live in
``SSDNeck``.
"""

import warnings

import torch.nn as nn
from mmcv.cnn import VGG
from mmcv.runner import BaseModule

from mmdet.utils.arg_errors import InvalidArgumentTypeError, check_arg
from ..builder import BACKBONES


@BACKBONES.register_module()
class SSDVGG(VGG, BaseModule):
    """VGG for SSD.

    Args (MMDetection 2.28's, same defaults):
        depth (int): 11, 13, 16 or 19.
        with_last_pool (bool): keep the last 2x2 pool of mmcv's VGG.
        ceil_mode (bool): ceil mode of the 2x2 pools (300 -> 38 at
            stride 8).
        out_indices (Sequence[int]): mmcv VGG stage indices (unused by
            ``forward``, kept for compatibility).
        out_feature_indices (Sequence[int]): ``features`` indices whose
            outputs are returned.
        pretrained (str, optional): deprecated, as ``init_cfg=dict(
            type='Pretrained', checkpoint=pretrained)``.
        init_cfg (dict | list, optional): mmcv init config.
        input_size, l2_norm_scale: deprecated, ignored with a warning
            (the L2 norm moved to ``SSDNeck``).

    Output: the tensor at each ``out_feature_indices`` (a tuple, or the
    tensor itself when there is one).
    """

    def __init__(
        self,
        depth,
        with_last_pool=False,
        ceil_mode=True,
        out_indices=(3, 4),
        out_feature_indices=(22, 34),
        pretrained=None,
        init_cfg=None,
        input_size=None,
        l2_norm_scale=None,
    ):
        super().__init__(
            depth,
            with_last_pool=with_last_pool,
            ceil_mode=ceil_mode,
            out_indices=out_indices,
        )
        self._add_fc_layers()
        self.out_feature_indices = out_feature_indices
        self.init_cfg = _ssd_vgg_init_cfg(pretrained, init_cfg)
        if input_size is not None:
            warnings.warn('DeprecationWarning: input_size is deprecated')
        if l2_norm_scale is not None:
            warnings.warn(
                'DeprecationWarning: l2_norm_scale in VGG is deprecated, '
                'it has been moved to SSDNeck.'
            )

    def _add_fc_layers(self):
        for layer in (
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1),
            nn.Conv2d(512, 1024, kernel_size=3, padding=6, dilation=6),
            nn.ReLU(inplace=True),
            nn.Conv2d(1024, 1024, kernel_size=1),
            nn.ReLU(inplace=True),
        ):
            self.features.add_module(str(len(self.features)), layer)

    def init_weights(self, pretrained=None):
        """mmcv's ``BaseModule`` initialisation from ``init_cfg`` (not
        mmcv VGG's own)."""
        BaseModule.init_weights(self)

    def train(self, mode=True):
        """mmcv VGG's ``train`` (``bn_eval``), returning ``self`` as
        ``nn.Module.train`` does."""
        super().train(mode)
        return self

    def forward(self, x):
        """(B, 3, H, W) -> the ``out_feature_indices`` outputs."""
        outs = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self.out_feature_indices:
                outs.append(x)
        return outs[0] if len(outs) == 1 else tuple(outs)


def _ssd_vgg_init_cfg(pretrained, init_cfg):
    check_arg(
        not (init_cfg and pretrained),
        'SSDVGG',
        'init_cfg and pretrained cannot be set at the same time',
    )
    if init_cfg is not None:
        return init_cfg
    if isinstance(pretrained, str):
        warnings.warn(
            'DeprecationWarning: pretrained is deprecated, use "init_cfg" '
            'instead'
        )
        return dict(type='Pretrained', checkpoint=pretrained)
    if pretrained is not None:
        raise InvalidArgumentTypeError(
            f'SSDVGG: pretrained must be a str or None, got {pretrained!r}'
        )
    return [
        dict(type='Kaiming', layer='Conv2d'),
        dict(type='Constant', val=1, layer='BatchNorm2d'),
        dict(type='Normal', std=0.01, layer='Linear'),
    ]
