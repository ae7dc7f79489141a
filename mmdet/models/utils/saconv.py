"""Switchable Atrous Convolution (SAC) of DetectoRS, registered as mmcv's
conv type ``'SAC'`` (mmcv-full's ``SAConv2d``, written here on torch and
``torchvision.ops.deform_conv2d`` because ``mmcv.ops`` needs the compiled
extension).

Output = s * conv(x', W, d) + (1 - s) * conv(x', W + weight_diff, 3d), then
plus a global-context term, where x' = x + pre_context(mean(x)), the switch
s = switch(avgpool5x5(x')) per pixel, W the weight-standardised weight of
``ConvAWS2d``; with ``use_deform`` both convs are deformable, offsets from
``offset_s`` / ``offset_l`` applied to the pooled input.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import CONV_LAYERS, ConvAWS2d
from torchvision.ops import deform_conv2d


class SAConv2d(ConvAWS2d):
    """SAC layer with ``nn.Conv2d``'s arguments plus ``use_deform``.

    (B, in_channels, H, W) -> (B, out_channels, H', W') as the same
    ``nn.Conv2d``. As in mmcv, the conv ``bias`` (when ``bias=True``) is
    never added (DetectoRS builds SAC without bias).
    Parameters: ``weight``, ``weight_diff``, ``switch``, ``pre_context``,
    ``post_context``, ``offset_s`` / ``offset_l`` (with ``use_deform``).
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
        bias=True,
        use_deform=False,
    ):
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
            groups=groups,
            bias=bias,
        )
        self.use_deform = use_deform
        self.switch = nn.Conv2d(in_channels, 1, 1, stride=stride, bias=True)
        self.weight_diff = nn.Parameter(torch.empty_like(self.weight))
        self.pre_context = nn.Conv2d(in_channels, in_channels, 1, bias=True)
        self.post_context = nn.Conv2d(out_channels, out_channels, 1, bias=True)
        if use_deform:
            # 18 = 2 coordinates x 9 taps of a 3x3 kernel, one offset group.
            self.offset_s = nn.Conv2d(
                in_channels, 18, 3, padding=1, stride=stride, bias=True
            )
            self.offset_l = nn.Conv2d(
                in_channels, 18, 3, padding=1, stride=stride, bias=True
            )
        self.init_weights()

    def init_weights(self):
        """Start as the plain conv: switch 1, no context, no offsets."""
        nn.init.zeros_(self.switch.weight)
        nn.init.ones_(self.switch.bias)
        nn.init.zeros_(self.weight_diff)
        extra = [self.pre_context, self.post_context]
        if self.use_deform:
            extra += [self.offset_s, self.offset_l]
        for conv in extra:
            nn.init.zeros_(conv.weight)
            nn.init.zeros_(conv.bias)

    def _branch(self, x, pooled, weight, scale, offset_conv):
        padding = tuple(scale * p for p in self.padding)
        dilation = tuple(scale * d for d in self.dilation)
        if self.use_deform:
            offset = getattr(self, offset_conv)(pooled)
            return deform_conv2d(
                x,
                offset,
                weight,
                stride=self.stride,
                padding=padding,
                dilation=dilation,
            )
        return F.conv2d(
            x, weight, None, self.stride, padding, dilation, self.groups
        )

    def forward(self, x):
        x = x + self.pre_context(F.adaptive_avg_pool2d(x, 1))
        pooled = F.avg_pool2d(F.pad(x, (2, 2, 2, 2), mode='reflect'), 5, 1)
        switch = self.switch(pooled)
        weight = self._get_weight(self.weight)
        out_s = self._branch(x, pooled, weight, 1, 'offset_s')
        out_l = self._branch(
            x, pooled, weight + self.weight_diff, 3, 'offset_l'
        )
        out = switch * out_s + (1 - switch) * out_l
        return out + self.post_context(F.adaptive_avg_pool2d(out, 1))


if 'SAC' not in CONV_LAYERS.module_dict:
    CONV_LAYERS.register_module('SAC', module=SAConv2d)
