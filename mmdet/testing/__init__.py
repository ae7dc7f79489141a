"""Test and demo helpers that are not part of the library proper: the
tiny synthetic COCO-format data set generator
(``tools/misc/make_tiny_coco.py`` is its command line) and its VOC-format
copy. ``import mmdet.datasets`` does not load it."""

from .tiny_coco import DIFFICULTIES, TINY_COCO_CLASSES, make_tiny_coco
from .tiny_voc import tiny_coco_to_voc

__all__ = [
    'DIFFICULTIES',
    'TINY_COCO_CLASSES',
    'make_tiny_coco',
    'tiny_coco_to_voc',
]
