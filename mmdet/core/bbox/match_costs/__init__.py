from .builder import MATCH_COST, build_match_cost
from .match_cost import (
    BBoxL1Cost,
    ClassificationCost,
    CrossEntropyLossCost,
    DiceCost,
    FocalLossCost,
    IoUCost,
)

__all__ = [
    'MATCH_COST',
    'build_match_cost',
    'ClassificationCost',
    'BBoxL1Cost',
    'IoUCost',
    'FocalLossCost',
    'DiceCost',
    'CrossEntropyLossCost',
]
