from .image import (
    color_val_matplotlib,
    imshow_det_bboxes,
    imshow_det_result,
    imshow_gt_det_bboxes,
)
from .palette import generated_palette, get_palette, palette_val

__all__ = [
    'color_val_matplotlib',
    'generated_palette',
    'get_palette',
    'imshow_det_bboxes',
    'imshow_det_result',
    'imshow_gt_det_bboxes',
    'palette_val',
]
