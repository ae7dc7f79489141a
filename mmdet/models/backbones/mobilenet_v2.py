"""MobileNetV2 and OD-MobileNetV2 in torchvision's layout.

``features.0`` is the stem (3x3 conv, stride 2), ``features.1..17`` the
inverted residual blocks, ``features.18`` the last 1x1 conv to 1280 channels,
``classifier`` = Dropout + Linear. In ``OD_MobileNetV2`` every conv after the
stem (point-wise, depth-wise and the last 1x1) is an ``ODConv2d``.

Detectors take the outputs after feature indices 1, 3, 6, 13, 18 for
``out_indices`` 0..4 (strides 2, 4, 8, 16, 32; channels 16, 24, 32, 96, 1280
at width 1.0); the released configs use (1, 2, 3, 4).

Given MMDetection 2.28's arguments (``widen_factor``, ``act_cfg``...),
``MobileNetV2`` builds MMDetection's own layout instead
(``mobilenet_v2_mmdet.MMDetMobileNetV2``).
"""

import torch.nn as nn

from ..builder import BACKBONES
from ..utils.make_divisible import make_divisible
from .base_backbone import ClassificationBackbone
from .mobilenet_v2_mmdet import MMDetMobileNetV2
from .odconv import ODConv2d

# (expand ratio t, output channels c, repeats n, first stride s)
INVERTED_RESIDUAL_SETTING = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
# last feature index of each stage (out_indices / frozen_stages refer to it)
STAGE_ENDS = (1, 3, 6, 13, 18)


def plain_conv(in_planes, out_planes, kernel_size, stride=1, groups=1):
    return nn.Conv2d(
        in_planes,
        out_planes,
        kernel_size,
        stride,
        (kernel_size - 1) // 2,
        groups=groups,
        bias=False,
    )


def make_od_conv_grouped(reduction, kernel_num):
    """A ``conv(in, out, k, stride, groups)`` factory of ODConv2d layers."""

    def od_conv(in_planes, out_planes, kernel_size, stride=1, groups=1):
        return ODConv2d(
            in_planes,
            out_planes,
            kernel_size,
            stride,
            (kernel_size - 1) // 2,
            groups=groups,
            reduction=reduction,
            kernel_num=kernel_num,
        )

    return od_conv


def conv_bn_relu(
    conv, in_planes, out_planes, kernel_size=3, stride=1, groups=1
):
    """conv + BatchNorm + ReLU6 as ``nn.Sequential`` (names 0, 1, 2)."""
    return nn.Sequential(
        conv(in_planes, out_planes, kernel_size, stride, groups),
        nn.BatchNorm2d(out_planes),
        nn.ReLU6(inplace=True),
    )


class InvertedResidual(nn.Module):
    """Expand (1x1) -> depth-wise 3x3 -> project (1x1, linear), with a
    residual connection when the shape is kept."""

    def __init__(self, inp, oup, stride, expand_ratio, conv=plain_conv):
        super().__init__()
        hidden = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers = []
        if expand_ratio != 1:
            layers.append(conv_bn_relu(conv, inp, hidden, kernel_size=1))
        layers += [
            conv_bn_relu(conv, hidden, hidden, stride=stride, groups=hidden),
            conv(hidden, oup, 1),
            nn.BatchNorm2d(oup),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        out = self.conv(x)
        return x + out if self.use_res_connect else out


# arguments only MMDetection 2.28's MobileNetV2 has / only the ODConv one has
MMDET_ONLY_ARGS = (
    'widen_factor',
    'conv_cfg',
    'norm_cfg',
    'act_cfg',
    'with_cp',
)
ODCONV_ONLY_ARGS = ('width_mult', 'num_classes')


def wants_mmdet_layout(kwargs):
    """True when the keyword arguments are MMDetection 2.28's (one of
    ``MMDET_ONLY_ARGS``); a TypeError when they mix both sets."""
    mmdet = sorted(k for k in kwargs if k in MMDET_ONLY_ARGS)
    if not mmdet:
        return False
    odconv = sorted(k for k in kwargs if k in ODCONV_ONLY_ARGS)
    if odconv:
        raise TypeError(
            f'MobileNetV2 got {odconv} of the ODConv release\'s layout '
            f'(torchvision\'s: width_mult, features.*, out_indices 0..4) '
            f'together with {mmdet} of MMDetection 2.28\'s layout '
            '(widen_factor, conv1/layer1..7/conv2, out_indices 0..7); '
            'use one set'
        )
    return True


def _refuse_unexpected(owner, unexpected):
    """The TypeError of unknown keyword arguments."""
    if unexpected:
        raise TypeError(
            f'{owner}.__init__() got unexpected keyword arguments '
            f'{sorted(unexpected)}'
        )


@BACKBONES.register_module()
class MobileNetV2(ClassificationBackbone):
    """MobileNetV2 backbone, in one of two layouts chosen by the arguments:

    - the ODConv release's (torchvision's layout, this class), with the
      arguments below; also when only shared ones (``out_indices``,
      ``frozen_stages``, ``norm_eval``, ``pretrained``, ``init_cfg``) are
      given;
    - MMDetection 2.28's (``MMDetMobileNetV2``: ``conv1``, ``layer1..7``,
      ``conv2``; out_indices 0..7) as soon as one of ``widen_factor``,
      ``conv_cfg``, ``norm_cfg``, ``act_cfg``, ``with_cp`` is given.
      Mixing them with ``width_mult`` / ``num_classes`` is a TypeError.

    Args (ODConv layout):
        width_mult (float): channel multiplier (channels rounded to multiples
            of 8; the last conv keeps 1280 below 1.0).
        num_classes (int): size of the classifier (kept for strict ImageNet
            checkpoint loading; unused by detectors).
        out_indices (tuple[int]): 0..4, the outputs after feature indices
            1, 3, 6, 13, 18.
        frozen_stages (int): freeze ``features[0..STAGE_ENDS[k]]``.
        norm_eval, pretrained, init_cfg: see ``ClassificationBackbone``.
    """

    def __init__(
        self,
        width_mult=1.0,
        num_classes=1000,
        out_indices=(1, 2, 3, 4),
        frozen_stages=-1,
        norm_eval=True,
        pretrained=None,
        init_cfg=None,
        **unexpected,
    ):
        _refuse_unexpected(type(self).__name__, unexpected)
        # (arguments of MMDetection's layout were routed by __new__)
        super().__init__(frozen_stages, norm_eval, pretrained, init_cfg)
        self._build(width_mult, num_classes, out_indices, plain_conv)

    def __new__(cls, *args, **kwargs):
        if cls is MobileNetV2 and wants_mmdet_layout(kwargs):
            # not a MobileNetV2, so Python does not run __init__ again
            return MMDetMobileNetV2(*args, **kwargs)
        return super().__new__(cls)

    def _build(self, width_mult, num_classes, out_indices, conv):
        if not set(out_indices) <= set(range(len(STAGE_ENDS))):
            raise ValueError(
                f'out_indices must be within 0..4, got {out_indices} (the '
                "ODConv release's layout; MMDetection 2.28's, with "
                'out_indices 0..7, is built when widen_factor, conv_cfg, '
                'norm_cfg, act_cfg or with_cp is given)'
            )
        if not -1 <= self.frozen_stages < len(STAGE_ENDS):
            raise ValueError(
                f'frozen_stages must be within -1..4, got {self.frozen_stages}'
            )
        self.width_mult = width_mult
        self.out_indices = tuple(out_indices)
        input_channel = make_divisible(32 * width_mult, 8)
        last_channel = make_divisible(1280 * max(1.0, width_mult), 8)
        # the stem stays a plain conv in both versions
        features = [conv_bn_relu(plain_conv, 3, input_channel, stride=2)]
        channels = [input_channel]
        for t, c, n, s in INVERTED_RESIDUAL_SETTING:
            out_channel = make_divisible(c * width_mult, 8)
            for i in range(n):
                features.append(
                    InvertedResidual(
                        input_channel, out_channel, s if i == 0 else 1, t, conv
                    )
                )
                input_channel = out_channel
                channels.append(out_channel)
        features.append(
            conv_bn_relu(conv, input_channel, last_channel, kernel_size=1)
        )
        channels.append(last_channel)
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(
            nn.Dropout(0.2), nn.Linear(last_channel, num_classes)
        )
        self.out_channels = [channels[STAGE_ENDS[i]] for i in out_indices]
        self._post_init()

    def _frozen_modules(self):
        if self.frozen_stages < 0:
            return []
        return list(self.features[: STAGE_ENDS[self.frozen_stages] + 1])

    def forward(self, x):
        """(B, 3, H, W) -> tuple of the selected stage outputs."""
        wanted = {STAGE_ENDS[i] for i in self.out_indices}
        outs = []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in wanted:
                outs.append(x)
            if index >= max(wanted):
                break
        return tuple(outs)


@BACKBONES.register_module()
class OD_MobileNetV2(MobileNetV2):
    """MobileNetV2 with every conv after the stem an ODConv2d (``kernel_num``
    candidate kernels, attention squeeze ``reduction``, attention
    ``temperature``, 1.0 as released); other arguments as ``MobileNetV2``."""

    def __init__(
        self,
        width_mult=1.0,
        num_classes=1000,
        out_indices=(1, 2, 3, 4),
        frozen_stages=-1,
        norm_eval=True,
        pretrained=None,
        reduction=0.0625,
        kernel_num=4,
        temperature=1.0,
        init_cfg=None,
    ):
        ClassificationBackbone.__init__(
            self, frozen_stages, norm_eval, pretrained, init_cfg
        )
        self._build(
            width_mult,
            num_classes,
            out_indices,
            make_od_conv_grouped(reduction, kernel_num),
        )
        self.temperature = float(temperature)
        self.net_update_temperature(self.temperature)
