"""Cosine-similarity predictors (Seesaw Loss's normalized classifier):
``NormedLinear`` (linear type) and ``NormedConv2d`` (mmcv conv type).

Both compute ``tempearture * <x / |x|^p, w / |w|^p>`` (+ bias), the norms
taken over the input channels (per position for the conv), each plus
``eps``. The argument and attribute name ``tempearture`` is MMDetection's
spelling, kept so that its configs build unchanged.
"""

import torch.nn.functional as F
from mmcv.cnn import CONV_LAYERS
from torch import nn

from .builder import LINEAR_LAYERS


def _normalized(x, dim, power, eps):
    """``x / (|x|_2 ** power + eps)`` with the norm over ``dim``."""
    return x / (x.norm(dim=dim, keepdim=True).pow(power) + eps)


class NormedLinear(nn.Linear):
    """``nn.Linear`` on unit-normalized inputs and weight rows, scaled by
    ``tempearture``: (N, in) -> (N, out). Weights start N(0, 0.01), bias 0.
    """

    def __init__(self, *args, tempearture=20, power=1.0, eps=1e-6, **kwargs):
        super().__init__(*args, **kwargs)
        self.tempearture = tempearture
        self.power = power
        self.eps = eps
        self.init_weights()

    def init_weights(self):
        nn.init.normal_(self.weight, mean=0, std=0.01)
        if self.bias is not None:
            nn.init.constant_(self.bias, 0)

    def forward(self, x):
        weight = _normalized(self.weight, 1, self.power, self.eps)
        x = _normalized(x, 1, self.power, self.eps) * self.tempearture
        return F.linear(x, weight, self.bias)


class NormedConv2d(nn.Conv2d):
    """``nn.Conv2d`` on inputs normalized over channels at each position
    and weights normalized per (output, position) over input channels, or
    over the whole kernel with ``norm_over_kernel``; scaled by
    ``tempearture``: (N, C, H, W) -> (N, out, H', W')."""

    def __init__(
        self,
        *args,
        tempearture=20,
        power=1.0,
        eps=1e-6,
        norm_over_kernel=False,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.tempearture = tempearture
        self.power = power
        self.norm_over_kernel = norm_over_kernel
        self.eps = eps

    def forward(self, x):
        if self.norm_over_kernel:
            flat = _normalized(self.weight.flatten(1), 1, self.power, self.eps)
            weight = flat.view_as(self.weight)
        else:
            weight = _normalized(self.weight, 1, self.power, self.eps)
        x = _normalized(x, 1, self.power, self.eps) * self.tempearture
        return self._conv_forward(x, weight, self.bias)


LINEAR_LAYERS.register_module('NormedLinear', module=NormedLinear)
if 'NormedConv2d' not in CONV_LAYERS.module_dict:
    CONV_LAYERS.register_module('NormedConv2d', module=NormedConv2d)
