from .mobilenet_v2 import MobileNetV2, OD_MobileNetV2
from .odconv import ODConv2d
from .res2net import Res2Net
from .resnest import ResNeSt
from .resnet import OD_ResNet, ResNet, ResNetV1d
from .resnext import ResNeXt

__all__ = [
    'ResNet',
    'ResNetV1d',
    'ResNeXt',
    'Res2Net',
    'ResNeSt',
    'OD_ResNet',
    'MobileNetV2',
    'OD_MobileNetV2',
    'ODConv2d',
]
