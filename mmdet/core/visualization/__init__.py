from .image import imshow_det_bboxes, imshow_gt_det_bboxes
from .palette import generated_palette, get_palette, palette_val

__all__ = [
    'generated_palette',
    'get_palette',
    'imshow_det_bboxes',
    'imshow_gt_det_bboxes',
    'palette_val',
]
