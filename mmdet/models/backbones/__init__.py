from .mobilenet_v2 import MobileNetV2, OD_MobileNetV2
from .odconv import ODConv2d
from .resnet import OD_ResNet, ResNet

__all__ = ['ResNet', 'OD_ResNet', 'MobileNetV2', 'OD_MobileNetV2', 'ODConv2d']
