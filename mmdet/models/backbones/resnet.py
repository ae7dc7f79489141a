"""ResNet and OD-ResNet in torchvision's layout.

The module names (``conv1``, ``bn1``, ``layer1.0.conv2``, ``layer1.0.
downsample.0``, ``fc``...) are those of torchvision's ImageNet checkpoints and
of the released detectors; the stride of a Bottleneck sits on its 3x3 conv.
In ``OD_ResNet`` every conv inside a residual block is an ``ODConv2d``; the
stem and the downsample shortcuts stay plain convs.
"""
import torch.nn as nn

from ..builder import BACKBONES
from .base_backbone import ClassificationBackbone
from .odconv import ODConv2d


def plain_conv(in_planes, out_planes, kernel_size, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size, stride=stride,
                     padding=kernel_size // 2, bias=False)


def make_od_conv(reduction, kernel_num):
    """A ``conv(in, out, k, stride)`` factory building ODConv2d layers."""

    def od_conv(in_planes, out_planes, kernel_size, stride=1):
        return ODConv2d(in_planes, out_planes, kernel_size, stride=stride,
                        padding=kernel_size // 2, reduction=reduction,
                        kernel_num=kernel_num)

    return od_conv


class BasicBlock(nn.Module):
    """Two 3x3 convs (ResNet-18/34)."""
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None,
                 conv=plain_conv):
        super().__init__()
        self.conv1 = conv(inplanes, planes, 3, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv(planes, planes, 3)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (strided) -> 1x1 with 4x expansion (ResNet-50/101/152)."""
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None,
                 conv=plain_conv):
        super().__init__()
        self.conv1 = conv(inplanes, planes, 1)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv(planes, planes, 3, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv(planes, planes * self.expansion, 1)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


@BACKBONES.register_module()
class ResNet(ClassificationBackbone):
    """ResNet backbone returning the outputs of ``layer{i+1}`` for i in
    ``out_indices`` (strides 4, 8, 16, 32; channels 256..2048 for depth
    >= 50, 64..512 below).

    Args:
        depth (int): 18, 34, 50, 101 or 152.
        num_classes (int): size of ``fc`` (kept so ImageNet checkpoints load
            strictly; unused by detectors).
        out_indices (tuple[int]): stages whose outputs are returned.
        frozen_stages, norm_eval, pretrained, init_cfg: see
            ``ClassificationBackbone``; ``frozen_stages=k`` freezes the stem
            and ``layer1..k``.
    """
    arch_settings = {
        18: (BasicBlock, (2, 2, 2, 2)),
        34: (BasicBlock, (3, 4, 6, 3)),
        50: (Bottleneck, (3, 4, 6, 3)),
        101: (Bottleneck, (3, 4, 23, 3)),
        152: (Bottleneck, (3, 8, 36, 3)),
    }

    def __init__(self, depth, num_classes=1000, out_indices=(0, 1, 2, 3),
                 frozen_stages=-1, norm_eval=True, pretrained=None,
                 init_cfg=None):
        super().__init__(frozen_stages, norm_eval, pretrained, init_cfg)
        self._build(depth, num_classes, out_indices, plain_conv)

    def _build(self, depth, num_classes, out_indices, conv):
        if depth not in self.arch_settings:
            raise KeyError(f'invalid depth {depth} for {type(self).__name__}'
                           f'; choose from {sorted(self.arch_settings)}')
        if not set(out_indices) <= {0, 1, 2, 3}:
            raise ValueError(f'out_indices must be within 0..3, got '
                             f'{out_indices}')
        if not -1 <= self.frozen_stages <= 4:
            raise ValueError('frozen_stages must be within -1..4, got '
                             f'{self.frozen_stages}')
        block, layers = self.arch_settings[depth]
        self.depth = depth
        self.out_indices = tuple(out_indices)
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.inplanes = 64
        for i, (planes, num_blocks) in enumerate(zip((64, 128, 256, 512),
                                                     layers)):
            stride = 1 if i == 0 else 2
            self.add_module(f'layer{i + 1}', self._make_layer(
                block, planes, num_blocks, stride, conv))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        self.out_channels = [64 * 2**i * block.expansion for i in range(4)]
        self._post_init()

    def _make_layer(self, block, planes, num_blocks, stride, conv):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                plain_conv(self.inplanes, planes * block.expansion, 1,
                           stride),
                nn.BatchNorm2d(planes * block.expansion))
        blocks = [block(self.inplanes, planes, stride, downsample, conv)]
        self.inplanes = planes * block.expansion
        blocks += [block(self.inplanes, planes, conv=conv)
                   for _ in range(1, num_blocks)]
        return nn.Sequential(*blocks)

    def _frozen_modules(self):
        if self.frozen_stages < 0:
            return []
        return [self.conv1, self.bn1] + [
            getattr(self, f'layer{i}')
            for i in range(1, self.frozen_stages + 1)
        ]

    def forward(self, x):
        """(B, 3, H, W) -> tuple of the selected stage outputs."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        outs = []
        for i in range(4):
            x = getattr(self, f'layer{i + 1}')(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)


@BACKBONES.register_module()
class OD_ResNet(ResNet):
    """ResNet whose residual-block convs are ODConv2d (``kernel_num``
    candidate kernels, attention squeeze ``reduction``, attention
    ``temperature``, 1.0 as released); other arguments as ``ResNet``."""

    def __init__(self, depth, num_classes=1000, out_indices=(0, 1, 2, 3),
                 frozen_stages=-1, norm_eval=True, pretrained=None,
                 reduction=0.0625, kernel_num=4, temperature=1.0,
                 init_cfg=None):
        ClassificationBackbone.__init__(self, frozen_stages, norm_eval,
                                        pretrained, init_cfg)
        self._build(depth, num_classes, out_indices,
                    make_od_conv(reduction, kernel_num))
        self.temperature = float(temperature)
        self.net_update_temperature(self.temperature)
