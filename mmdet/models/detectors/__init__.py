from .atss import ATSS
from .base import BaseDetector
from .cascade_rcnn import CascadeRCNN
from .fast_rcnn import FastRCNN
from .faster_rcnn import FasterRCNN
from .fcos import FCOS
from .mask_rcnn import MaskRCNN
from .mask_scoring_rcnn import MaskScoringRCNN
from .retinanet import RetinaNet
from .rpn import RPN
from .single_stage import SingleStageDetector
from .two_stage import TwoStageDetector

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
    'RPN',
    'FastRCNN',
    'MaskScoringRCNN',
]
