"""Objects365 v1 / v2 in COCO json (MMDetection 2.x's
``Objects365V1Dataset`` / ``Objects365V2Dataset``).

The 365 class names are read from the annotation file (v1: in category id
order, since v1's train and val files list the categories in different
orders; v2: in file order), which gives MMDetection's label order.
"""

from .coco import CocoDataset
from .registry import DATASETS


@DATASETS.register_module()
class Objects365V1Dataset(CocoDataset):
    """Objects365 v1; CLASSES come from the annotation file."""

    CLASSES = None
    PALETTE = None

    def _prepare_coco_dict(self, dataset):
        dataset['categories'] = sorted(
            dataset.get('categories', []), key=lambda c: c['id']
        )


@DATASETS.register_module()
class Objects365V2Dataset(CocoDataset):
    """Objects365 v2; CLASSES come from the annotation file."""

    CLASSES = None
    PALETTE = None
