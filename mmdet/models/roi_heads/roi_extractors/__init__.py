from .base_roi_extractor import BaseRoIExtractor
from .generic_roi_extractor import GenericRoIExtractor
from .roi_align import RoIAlign
from .single_level_roi_extractor import SingleRoIExtractor

__all__ = [
    'BaseRoIExtractor',
    'SingleRoIExtractor',
    'GenericRoIExtractor',
    'RoIAlign',
]
