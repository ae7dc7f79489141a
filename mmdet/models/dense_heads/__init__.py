from .anchor_free_head import AnchorFreeHead
from .anchor_head import AnchorHead, AscendAnchorHead
from .atss_head import ATSSHead
from .autoassign_head import AutoAssignHead
from .base_dense_head import BaseDenseHead
from .base_mask_head import BaseMaskHead
from .cascade_rpn_head import CascadeRPNHead, StageCascadeRPNHead
from .centernet_head import CenterNetHead
from .centripetal_head import CentripetalHead
from .corner_head import CornerHead
from .ddod_head import DDODHead
from .deformable_detr_head import DeformableDETRHead
from .detr_head import DETRHead
from .embedding_rpn_head import EmbeddingRPNHead
from .fcos_head import FCOSHead
from .fovea_head import FoveaHead
from .free_anchor_retina_head import FreeAnchorRetinaHead
from .fsaf_head import FSAFHead
from .ga_retina_head import GARetinaHead
from .ga_rpn_head import GARPNHead
from .gfl_head import GFLHead, Integral
from .guided_anchor_head import FeatureAdaption, GuidedAnchorHead
from .lad_head import LADHead
from .ld_head import LDHead
from .mask2former_head import Mask2FormerHead
from .maskformer_head import MaskFormerHead
from .nasfcos_head import NASFCOSHead
from .paa_head import PAAHead
from .pisa_retinanet_head import PISARetinaHead
from .pisa_ssd_head import PISASSDHead
from .reppoints_head import RepPointsHead
from .retina_head import AscendRetinaHead, RetinaHead
from .retina_sepbn_head import RetinaSepBNHead
from .rpn_head import RPNHead
from .sabl_retina_head import SABLRetinaHead
from .solo_head import DecoupledSOLOHead, DecoupledSOLOLightHead, SOLOHead
from .solov2_head import SOLOV2Head
from .ssd_head import AscendSSDHead, SSDHead
from .tood_head import TOODHead
from .vfnet_head import VFNetHead
from .yolact_head import YOLACTHead, YOLACTProtonet, YOLACTSegmHead
from .yolo_head import YOLOV3Head
from .yolof_head import YOLOFHead
from .yolox_head import YOLOXHead

__all__ = [
    'MaskFormerHead',
    'Mask2FormerHead',
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
    'CascadeRPNHead',
    'StageCascadeRPNHead',
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
    'DETRHead',
    'DeformableDETRHead',
    'VFNetHead',
    'TOODHead',
    'GFLHead',
    'Integral',
    'LDHead',
    'DDODHead',
    'RepPointsHead',
    'CenterNetHead',
    'CornerHead',
    'CentripetalHead',
    'FeatureAdaption',
    'GuidedAnchorHead',
    'GARetinaHead',
    'GARPNHead',
    'SABLRetinaHead',
    'PISARetinaHead',
]
