from .base_roi_extractor import BaseRoIExtractor
from .deform_roi_pool import (
    DeformRoIPool,
    DeformRoIPoolPack,
    ModulatedDeformRoIPoolPack,
)
from .generic_roi_extractor import GenericRoIExtractor
from .roi_align import RoIAlign
from .simple_roi_align import SimpleRoIAlign
from .single_level_roi_extractor import SingleRoIExtractor

__all__ = [
    'BaseRoIExtractor',
    'SingleRoIExtractor',
    'GenericRoIExtractor',
    'RoIAlign',
    'SimpleRoIAlign',
    'DeformRoIPool',
    'DeformRoIPoolPack',
    'ModulatedDeformRoIPoolPack',
]
