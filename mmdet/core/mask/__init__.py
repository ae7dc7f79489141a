from .mask_target import mask_target
from .paste import paste_masks, upsample_masks
from .structures import BaseInstanceMasks, BitmapMasks, PolygonMasks
from .utils import (
    encode_mask_results,
    mask2bbox,
    split_combined_polys,
    with_mask_boxes,
)

__all__ = [
    'BaseInstanceMasks',
    'BitmapMasks',
    'PolygonMasks',
    'encode_mask_results',
    'mask2bbox',
    'mask_target',
    'paste_masks',
    'split_combined_polys',
    'upsample_masks',
    'with_mask_boxes',
]
