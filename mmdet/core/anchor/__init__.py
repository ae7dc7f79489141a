from .anchor_generator import AnchorGenerator, LegacyAnchorGenerator
from .builder import (
    ANCHOR_GENERATORS,
    PRIOR_GENERATORS,
    build_anchor_generator,
    build_prior_generator,
)
from .point_generator import MlvlPointGenerator, PointGenerator
from .ssd_yolo_anchors import (
    LegacySSDAnchorGenerator,
    SSDAnchorGenerator,
    YOLOAnchorGenerator,
)
from .utils import anchor_inside_flags, calc_region, images_to_levels

__all__ = [
    'SSDAnchorGenerator',
    'LegacySSDAnchorGenerator',
    'YOLOAnchorGenerator',
    'LegacyAnchorGenerator',
    'PointGenerator',
    'AnchorGenerator',
    'anchor_inside_flags',
    'images_to_levels',
    'calc_region',
    'build_anchor_generator',
    'ANCHOR_GENERATORS',
    'build_prior_generator',
    'PRIOR_GENERATORS',
    'MlvlPointGenerator',
]
