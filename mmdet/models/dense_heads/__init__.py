from .anchor_free_head import AnchorFreeHead
from .anchor_head import AnchorHead
from .atss_head import ATSSHead
from .base_dense_head import BaseDenseHead
from .base_mask_head import BaseMaskHead
from .centernet_head import CenterNetHead
from .centripetal_head import CentripetalHead
from .corner_head import CornerHead
from .ddod_head import DDODHead
from .deformable_detr_head import DeformableDETRHead
from .detr_head import DETRHead
from .embedding_rpn_head import EmbeddingRPNHead
from .fcos_head import FCOSHead
from .ga_retina_head import GARetinaHead
from .ga_rpn_head import GARPNHead
from .gfl_head import GFLHead, Integral
from .guided_anchor_head import FeatureAdaption, GuidedAnchorHead
from .ld_head import LDHead
from .mask2former_head import Mask2FormerHead
from .maskformer_head import MaskFormerHead
from .pisa_retinanet_head import PISARetinaHead
from .reppoints_head import RepPointsHead
from .retina_head import RetinaHead
from .retina_sepbn_head import RetinaSepBNHead
from .rpn_head import RPNHead
from .sabl_retina_head import SABLRetinaHead
from .solo_head import DecoupledSOLOHead, DecoupledSOLOLightHead, SOLOHead
from .solov2_head import SOLOV2Head
from .tood_head import TOODHead
from .vfnet_head import VFNetHead
from .yolact_head import YOLACTHead, YOLACTProtonet, YOLACTSegmHead

__all__ = [
    'MaskFormerHead',
    'Mask2FormerHead',
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
