from .anchor_free_head import AnchorFreeHead
from .anchor_head import AnchorHead
from .atss_head import ATSSHead
from .base_dense_head import BaseDenseHead
from .fcos_head import FCOSHead
from .retina_head import RetinaHead
from .retina_sepbn_head import RetinaSepBNHead
from .rpn_head import RPNHead

__all__ = [
    'BaseDenseHead',
    'AnchorHead',
    'RPNHead',
    'RetinaHead',
    'RetinaSepBNHead',
    'AnchorFreeHead',
    'FCOSHead',
    'ATSSHead',
]
