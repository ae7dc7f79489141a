from .anchor_free_head import AnchorFreeHead
from .anchor_head import AnchorHead, AscendAnchorHead
from .atss_head import ATSSHead
from .base_dense_head import BaseDenseHead
from .base_mask_head import BaseMaskHead
from .embedding_rpn_head import EmbeddingRPNHead
from .fcos_head import FCOSHead
from .pisa_ssd_head import PISASSDHead
from .retina_head import AscendRetinaHead, RetinaHead
from .retina_sepbn_head import RetinaSepBNHead
from .rpn_head import RPNHead
from .solo_head import DecoupledSOLOHead, DecoupledSOLOLightHead, SOLOHead
from .solov2_head import SOLOV2Head
from .ssd_head import AscendSSDHead, SSDHead
from .yolact_head import YOLACTHead, YOLACTProtonet, YOLACTSegmHead
from .yolo_head import YOLOV3Head
from .yolof_head import YOLOFHead
from .yolox_head import YOLOXHead

__all__ = [
    'PISASSDHead',
    'YOLOXHead',
    'YOLOV3Head',
    'YOLOFHead',
    'AscendAnchorHead',
    'AscendRetinaHead',
    'SSDHead',
    'AscendSSDHead',
    'BaseDenseHead',
    'AnchorHead',
    'RPNHead',
    'RetinaHead',
    'RetinaSepBNHead',
    'AnchorFreeHead',
    'FCOSHead',
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
