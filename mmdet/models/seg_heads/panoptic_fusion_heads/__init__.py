from .base_panoptic_fusion_head import BasePanopticFusionHead
from .heuristic_fusion_head import HeuristicFusionHead
from .maskformer_fusion_head import MaskFormerFusionHead

__all__ = [
    'BasePanopticFusionHead',
    'HeuristicFusionHead',
    'MaskFormerFusionHead',
]
