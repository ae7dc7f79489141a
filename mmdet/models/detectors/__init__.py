from .atss import ATSS
from .autoassign import AutoAssign
from .base import BaseDetector
from .cascade_rcnn import CascadeRCNN
from .centernet import CenterNet
from .cornernet import CornerNet
from .ddod import DDOD
from .detr import DETR, DeformableDETR
from .fast_rcnn import FastRCNN
from .faster_rcnn import FasterRCNN
from .fcos import FCOS
from .fovea import FOVEA
from .fsaf import FSAF
from .gfl import GFL
from .grid_rcnn import GridRCNN
from .htc import HybridTaskCascade
from .kd_one_stage import KnowledgeDistillationSingleStageDetector
from .lad import LAD
from .mask_rcnn import MaskRCNN
from .mask_scoring_rcnn import MaskScoringRCNN
from .maskformer import Mask2Former, MaskFormer
from .nasfcos import NASFCOS
from .paa import PAA
from .panoptic_two_stage_segmentor import (
    PanopticFPN,
    TwoStagePanopticSegmentor,
)
from .point_rend import PointRend
from .queryinst import QueryInst
from .reppoints_detector import RepPointsDetector
from .retinanet import RetinaNet
from .rpn import RPN
from .scnet import SCNet
from .single_stage import SingleStageDetector
from .single_stage_instance_seg import SingleStageInstanceSegmentor
from .solo import SOLO, SOLOv2
from .sparse_rcnn import SparseRCNN
from .tood import TOOD
from .trident_faster_rcnn import TridentFasterRCNN
from .two_stage import TwoStageDetector
from .vfnet import VFNet
from .yolact import YOLACT
from .yolo import YOLOF, YOLOV3
from .yolox import YOLOX

__all__ = [
    'TwoStagePanopticSegmentor',
    'PanopticFPN',
    'MaskFormer',
    'Mask2Former',
    'YOLOX',
    'YOLOF',
    'YOLOV3',
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
    'FOVEA',
    'PAA',
    'FSAF',
    'NASFCOS',
    'LAD',
    'AutoAssign',
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
    'DETR',
    'DeformableDETR',
    'VFNet',
    'TOOD',
    'GFL',
    'KnowledgeDistillationSingleStageDetector',
    'DDOD',
    'RepPointsDetector',
    'CenterNet',
    'CornerNet',
]
