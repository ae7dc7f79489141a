from .atss import ATSS
from .base import BaseDetector
from .cascade_rcnn import CascadeRCNN
from .fast_rcnn import FastRCNN
from .faster_rcnn import FasterRCNN
from .fcos import FCOS
from .grid_rcnn import GridRCNN
from .htc import HybridTaskCascade
from .mask_rcnn import MaskRCNN
from .mask_scoring_rcnn import MaskScoringRCNN
from .point_rend import PointRend
from .queryinst import QueryInst
from .retinanet import RetinaNet
from .rpn import RPN
from .scnet import SCNet
from .single_stage import SingleStageDetector
from .single_stage_instance_seg import SingleStageInstanceSegmentor
from .solo import SOLO, SOLOv2
from .sparse_rcnn import SparseRCNN
from .trident_faster_rcnn import TridentFasterRCNN
from .two_stage import TwoStageDetector
from .yolact import YOLACT

__all__ = [
    'SCNet',
    'PointRend',
    'TridentFasterRCNN',
    'GridRCNN',
    'BaseDetector',
    'TwoStageDetector',
    'FasterRCNN',
    'MaskRCNN',
    'SingleStageDetector',
    'RetinaNet',
    'FCOS',
    'ATSS',
    'CascadeRCNN',
    'HybridTaskCascade',
    'SingleStageInstanceSegmentor',
    'SOLO',
    'SOLOv2',
    'YOLACT',
    'RPN',
    'FastRCNN',
    'MaskScoringRCNN',
    'SparseRCNN',
    'QueryInst',
]
