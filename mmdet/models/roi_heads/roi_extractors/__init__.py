from .base_roi_extractor import BaseRoIExtractor
from .roi_align import RoIAlign
from .single_level_roi_extractor import SingleRoIExtractor

__all__ = ['BaseRoIExtractor', 'SingleRoIExtractor', 'RoIAlign']
