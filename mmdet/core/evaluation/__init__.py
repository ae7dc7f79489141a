# The numpy ``bbox_overlaps`` is importable from here but left out of
# __all__: ``from .evaluation import *`` in mmdet.core must not replace the
# torch ``mmdet.core.bbox_overlaps``.
from .bbox_overlaps import bbox_overlaps  # noqa: F401
from .class_names import (
    cityscapes_classes,
    coco_classes,
    dataset_aliases,
    get_classes,
    voc_classes,
)
from .eval_hooks import DistEvalHook, EvalHook
from .mean_ap import average_precision, eval_map, print_map_summary
from .panoptic import INSTANCE_OFFSET
from .recall import (
    average_recall,
    eval_recalls,
    plot_iou_recall,
    plot_num_recall,
    print_recall_summary,
)

__all__ = [
    'INSTANCE_OFFSET',
    'DistEvalHook',
    'EvalHook',
    'average_precision',
    'average_recall',
    'cityscapes_classes',
    'coco_classes',
    'dataset_aliases',
    'eval_map',
    'eval_recalls',
    'get_classes',
    'plot_iou_recall',
    'plot_num_recall',
    'print_map_summary',
    'print_recall_summary',
    'voc_classes',
]
