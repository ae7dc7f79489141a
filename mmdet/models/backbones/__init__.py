from .efficientnet import EfficientNet
from .hrnet import HRNet
from .mobilenet_v2 import MobileNetV2, OD_MobileNetV2
from .odconv import ODConv2d
from .regnet import RegNet
from .res2net import Res2Net
from .resnest import ResNeSt
from .resnet import OD_ResNet, ResNet

__all__ = [
    'ResNet',
    'OD_ResNet',
    'MobileNetV2',
    'OD_MobileNetV2',
    'ODConv2d',
    'RegNet',
    'HRNet',
    'Res2Net',
    'ResNeSt',
    'EfficientNet',
]
