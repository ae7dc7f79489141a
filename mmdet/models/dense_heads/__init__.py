from .anchor_free_head import AnchorFreeHead
from .anchor_head import AnchorHead
from .atss_head import ATSSHead
from .autoassign_head import AutoAssignHead
from .base_dense_head import BaseDenseHead
from .base_mask_head import BaseMaskHead
from .embedding_rpn_head import EmbeddingRPNHead
from .fcos_head import FCOSHead
from .fovea_head import FoveaHead
from .free_anchor_retina_head import FreeAnchorRetinaHead
from .fsaf_head import FSAFHead
from .lad_head import LADHead
from .nasfcos_head import NASFCOSHead
from .paa_head import PAAHead
from .retina_head import RetinaHead
from .retina_sepbn_head import RetinaSepBNHead
from .rpn_head import RPNHead
from .solo_head import DecoupledSOLOHead, DecoupledSOLOLightHead, SOLOHead
from .solov2_head import SOLOV2Head
from .yolact_head import YOLACTHead, YOLACTProtonet, YOLACTSegmHead

__all__ = [
    'BaseDenseHead',
    'AnchorHead',
    'RPNHead',
    'RetinaHead',
    'RetinaSepBNHead',
    'AnchorFreeHead',
    'FCOSHead',
    'FoveaHead',
    'PAAHead',
    'FreeAnchorRetinaHead',
    'FSAFHead',
    'NASFCOSHead',
    'LADHead',
    'AutoAssignHead',
    'ATSSHead',
    'BaseMaskHead',
    'SOLOHead',
    'DecoupledSOLOHead',
    'DecoupledSOLOLightHead',
    'SOLOV2Head',
    'YOLACTHead',
    'YOLACTProtonet',
    'YOLACTSegmHead',
    'EmbeddingRPNHead',
]
