from .atss import ATSS
from .base import BaseDetector
from .cascade_rcnn import CascadeRCNN
from .faster_rcnn import FasterRCNN
from .fcos import FCOS
from .mask_rcnn import MaskRCNN
from .queryinst import QueryInst
from .retinanet import RetinaNet
from .single_stage import SingleStageDetector
from .single_stage_instance_seg import SingleStageInstanceSegmentor
from .solo import SOLO, SOLOv2
from .sparse_rcnn import SparseRCNN
from .two_stage import TwoStageDetector
from .yolact import YOLACT

__all__ = [
    'BaseDetector',
    'TwoStageDetector',
    'FasterRCNN',
    'MaskRCNN',
    'SingleStageDetector',
    'RetinaNet',
    'FCOS',
    'ATSS',
    'CascadeRCNN',
    'SingleStageInstanceSegmentor',
    'SOLO',
    'SOLOv2',
    'YOLACT',
    'SparseRCNN',
    'QueryInst',
]
