"""Building blocks shared by models, where MMDetection 2.x code imports
them from (``mmdet.models.utils``): the ResNet stage and the deformable
convs (conv types ``'DCN'`` / ``'DCNv2'``) and the norm type
``'MMSyncBN'``."""

from .deform_conv import (
    DeformConv2d,
    DeformConv2dPack,
    ModulatedDeformConv2d,
    ModulatedDeformConv2dPack,
)
from .res_layer import ResLayer, conv_builder
from .sync_bn import MMSyncBatchNorm

__all__ = [
    'ResLayer',
    'conv_builder',
    'DeformConv2d',
    'DeformConv2dPack',
    'ModulatedDeformConv2d',
    'ModulatedDeformConv2dPack',
    'MMSyncBatchNorm',
]
