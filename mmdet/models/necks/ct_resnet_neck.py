"""CenterNet's ResNet neck (Zhou et al., 2019) with MMDetection 2.x names:
per stage a 3x3 ConvModule (DCNv2 with ``use_dcn``) then a stride-2
transposed-conv ConvModule (``deconv_layers.{2i,2i+1}``), both with BN and
ReLU; each stage doubles the resolution of the last backbone output."""

import math

import torch.nn as nn
from mmcv.cnn import ConvModule
from mmcv.runner import BaseModule

from mmdet.utils.arg_errors import check_arg
from ..builder import NECKS


def _bilinear_kernel(size):
    """(size, size) weights of bilinear upsampling by a transposed conv."""
    f = math.ceil(size / 2)
    c = (2 * f - 1 - f % 2) / (2.0 * f)
    ramp = [1 - abs(i / f - c) for i in range(size)]
    return [[a * b for b in ramp] for a in ramp]


@NECKS.register_module()
class CTResNetNeck(BaseModule):
    """CenterNet upsampling neck.

    Args:
        in_channel (int): channels of the last backbone output.
        num_deconv_filters (tuple[int]): channels of each stage.
        num_deconv_kernels (tuple[int]): transposed-conv kernel of each stage
            (4 doubles the size with padding 1).
        use_dcn (bool): 3x3 convs are 'DCNv2' (needs it registered).

    Input: tuple whose last item is (B, in_channel, H, W). Output: 1-tuple
    (B, num_deconv_filters[-1], H * 2**stages, W * 2**stages).
    """

    def __init__(
        self,
        in_channel,
        num_deconv_filters,
        num_deconv_kernels,
        use_dcn=True,
        init_cfg=None,
    ):
        super().__init__(init_cfg)
        check_arg(
            len(num_deconv_filters) == len(num_deconv_kernels),
            'CTResNetNeck',
            'num_deconv_filters and num_deconv_kernels differ in length',
        )
        self.fp16_enabled = False
        self.use_dcn = use_dcn
        self.in_channel = in_channel
        self.deconv_layers = self._make_deconv_layer(
            num_deconv_filters, num_deconv_kernels
        )

    def _make_deconv_layer(self, num_deconv_filters, num_deconv_kernels):
        layers = []
        conv_cfg = dict(type='DCNv2') if self.use_dcn else None
        for channels, kernel in zip(num_deconv_filters, num_deconv_kernels):
            layers.append(
                ConvModule(
                    self.in_channel,
                    channels,
                    3,
                    padding=1,
                    conv_cfg=conv_cfg,
                    norm_cfg=dict(type='BN'),
                )
            )
            layers.append(
                ConvModule(
                    channels,
                    channels,
                    kernel,
                    stride=2,
                    padding=1,
                    conv_cfg=dict(type='deconv'),
                    norm_cfg=dict(type='BN'),
                )
            )
            self.in_channel = channels
        return nn.Sequential(*layers)

    def init_weights(self):
        for m in self.modules():
            if isinstance(m, nn.ConvTranspose2d):
                m.reset_parameters()
                kernel = m.weight.new_tensor(
                    _bilinear_kernel(m.weight.size(2))
                )
                # every output channel's first input slice holds the kernel
                m.weight.data[:, 0] = kernel
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif not self.use_dcn and isinstance(m, nn.Conv2d):
                m.reset_parameters()

    def forward(self, inputs):
        check_arg(
            isinstance(inputs, (list, tuple)),
            'CTResNetNeck',
            'expects a list or tuple of feature maps',
        )
        return (self.deconv_layers(inputs[-1]),)
