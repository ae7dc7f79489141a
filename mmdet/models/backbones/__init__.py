from .mobilenet_v2 import MobileNetV2, OD_MobileNetV2
from .odconv import ODConv2d
from .pvt import PyramidVisionTransformer, PyramidVisionTransformerV2
from .resnet import OD_ResNet, ResNet
from .swin import SwinTransformer

__all__ = [
    'ResNet',
    'OD_ResNet',
    'MobileNetV2',
    'OD_MobileNetV2',
    'ODConv2d',
    'SwinTransformer',
    'PyramidVisionTransformer',
    'PyramidVisionTransformerV2',
]
