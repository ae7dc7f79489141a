from .backbones import *  # noqa: F401,F403
from .builder import (
    BACKBONES,
    DETECTORS,
    HEADS,
    LOSSES,
    MODELS,
    NECKS,
    ROI_EXTRACTORS,
    SHARED_HEADS,
    build_backbone,
    build_detector,
    build_head,
    build_loss,
    build_neck,
    build_roi_extractor,
    build_shared_head,
)
from .dense_heads import *  # noqa: F401,F403
from .detectors import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .necks import *  # noqa: F401,F403
from .plugins import *  # noqa: F401,F403
from .roi_heads import *  # noqa: F401,F403
from .seg_heads import *  # noqa: F401,F403

__all__ = [
    'BACKBONES',
    'NECKS',
    'ROI_EXTRACTORS',
    'SHARED_HEADS',
    'HEADS',
    'LOSSES',
    'DETECTORS',
    'MODELS',
    'build_backbone',
    'build_neck',
    'build_roi_extractor',
    'build_shared_head',
    'build_head',
    'build_shared_head',
    'build_loss',
    'build_detector',
]
