from .base_roi_extractor import BaseRoIExtractor
from .deform_roi_pool import (
    DeformRoIPool,
    DeformRoIPoolPack,
    ModulatedDeformRoIPoolPack,
    deform_roi_pool,
)
from .roi_align import RoIAlign
from .single_level_roi_extractor import SingleRoIExtractor

__all__ = [
    'BaseRoIExtractor',
    'SingleRoIExtractor',
    'RoIAlign',
    'DeformRoIPool',
    'DeformRoIPoolPack',
    'ModulatedDeformRoIPoolPack',
    'deform_roi_pool',
]
