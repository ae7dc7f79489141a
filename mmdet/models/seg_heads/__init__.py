"""Semantic heads and panoptic fusion heads (MMDetection 2.x's
``mmdet.models.seg_heads``)."""

from .panoptic_fpn_head import PanopticFPNHead
from .panoptic_fusion_heads import *  # noqa: F401,F403

__all__ = ['PanopticFPNHead']
