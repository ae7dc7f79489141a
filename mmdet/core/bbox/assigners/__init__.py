from .assign_result import AssignResult
from .atss_assigner import ATSSAssigner
from .base_assigner import BaseAssigner
from .hungarian_assigner import HungarianAssigner
from .max_iou_assigner import MaxIoUAssigner

__all__ = [
    'BaseAssigner',
    'MaxIoUAssigner',
    'AssignResult',
    'ATSSAssigner',
    'HungarianAssigner',
]
