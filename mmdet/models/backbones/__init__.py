from .csp_darknet import CSPDarknet
from .darknet import Darknet
from .detectors_resnet import DetectoRS_ResNet
from .detectors_resnext import DetectoRS_ResNeXt
from .efficientnet import EfficientNet
from .hourglass import HourglassNet
from .hrnet import HRNet
from .mobilenet_v2 import MobileNetV2, OD_MobileNetV2
from .odconv import ODConv2d
from .pvt import PyramidVisionTransformer, PyramidVisionTransformerV2
from .regnet import RegNet
from .res2net import Res2Net
from .resnest import ResNeSt
from .resnet import OD_ResNet, ResNet, ResNetV1d
from .resnext import ResNeXt
from .ssd_vgg import SSDVGG
from .swin import SwinTransformer
from .trident_resnet import TridentResNet

__all__ = [
    'ResNet',
    'ResNetV1d',
    'ResNeXt',
    'OD_ResNet',
    'MobileNetV2',
    'OD_MobileNetV2',
    'ODConv2d',
    'SwinTransformer',
    'PyramidVisionTransformer',
    'PyramidVisionTransformerV2',
    'SSDVGG',
    'Darknet',
    'CSPDarknet',
    'HourglassNet',
    'DetectoRS_ResNet',
    'DetectoRS_ResNeXt',
    'TridentResNet',
    'RegNet',
    'HRNet',
    'Res2Net',
    'ResNeSt',
    'EfficientNet',
]
