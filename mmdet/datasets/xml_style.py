"""Data sets annotated with one PASCAL-VOC-style XML file per image
(MMDetection 2.x's ``XMLDataset``).

The annotation file lists image ids, one a line; image ``<id>`` is
``<img_prefix>/<img_subdir>/<id>.jpg`` and its boxes are in
``<img_prefix>/<ann_subdir>/<id>.xml``. Boxes are read in VOC's 1-based
pixel coordinates and shifted by -1 (MMDetection's convention); objects
marked ``difficult`` (and, with ``min_size``, small ones) become ignored
boxes.
"""

import os.path as osp
import xml.etree.ElementTree as ET

import mmcv
import numpy as np
from PIL import Image

from mmdet.utils.arg_errors import InvalidArgumentError
from .custom import CustomDataset
from .registry import DATASETS


def _box_of(obj):
    """[x1, y1, x2, y2] ints of an ``<object>``'s ``<bndbox>``."""
    box = obj.find('bndbox')
    return [
        int(float(box.find(k).text)) for k in ('xmin', 'ymin', 'xmax', 'ymax')
    ]


def _as_boxes(boxes, labels):
    """(n, 4) float32 boxes shifted to 0-based, (n,) int64 labels."""
    if not boxes:
        return np.zeros((0, 4), np.float32), np.zeros((0,), np.int64)
    return (
        np.array(boxes, dtype=np.float32) - 1,
        np.array(labels, dtype=np.int64),
    )


@DATASETS.register_module()
class XMLDataset(CustomDataset):
    """VOC-style XML annotations.

    Args:
        min_size (int | None): in training, boxes with a side (pixels)
            below it are ignored.
        img_subdir (str): image folder under ``img_prefix``.
        ann_subdir (str): XML folder under ``img_prefix``.
        **kwargs: ``CustomDataset``'s arguments.
    """

    def __init__(
        self,
        min_size=None,
        img_subdir='JPEGImages',
        ann_subdir='Annotations',
        **kwargs,
    ):
        if not (self.CLASSES or kwargs.get('classes')):
            raise InvalidArgumentError(
                'CLASSES in `XMLDataset` can not be None.'
            )
        self.img_subdir = img_subdir
        self.ann_subdir = ann_subdir
        self.min_size = min_size
        super().__init__(**kwargs)

    @property
    def cat2label(self):
        """Class name -> label."""
        return {name: i for i, name in enumerate(self.CLASSES)}

    def _xml_root(self, img_id):
        path = osp.join(self.img_prefix, self.ann_subdir, f'{img_id}.xml')
        return ET.parse(path).getroot()

    def load_annotations(self, ann_file):
        """One dict (id, filename, width, height) per listed image id; the
        size comes from ``<size>``, else from the image file."""
        data_infos = []
        for img_id in mmcv.list_from_file(ann_file):
            filename = osp.join(self.img_subdir, f'{img_id}.jpg')
            size = self._xml_root(img_id).find('size')
            if size is not None:
                width = int(size.find('width').text)
                height = int(size.find('height').text)
            else:
                with Image.open(osp.join(self.img_prefix, filename)) as img:
                    width, height = img.size
            data_infos.append(
                dict(id=img_id, filename=filename, width=width, height=height)
            )
        return data_infos

    def _has_known_object(self, img_id):
        return any(
            obj.find('name').text in self.CLASSES
            for obj in self._xml_root(img_id).findall('object')
        )

    def _filter_imgs(self, min_size=32):
        """Images with both sides >= ``min_size`` and, with
        ``filter_empty_gt``, an object of a known class."""
        return [
            i
            for i, info in enumerate(self.data_infos)
            if min(info['width'], info['height']) >= min_size
            and (
                not self.filter_empty_gt or self._has_known_object(info['id'])
            )
        ]

    def _drop_reasons(self, read_infos):
        small = sum(
            min(info['width'], info['height']) < 32 for info in read_infos
        )
        empty = sum(
            min(info['width'], info['height']) >= 32
            and self.filter_empty_gt
            and not self._has_known_object(info['id'])
            for info in read_infos
        )
        return [
            (small, 'have a side under 32 pixels'),
            (empty, f'have no object of the classes {self.CLASSES}'),
        ]

    def _is_ignored(self, bbox, difficult):
        if difficult:
            return True
        if not self.min_size:
            return False
        if self.test_mode:
            raise InvalidArgumentError(
                'min_size ignores small boxes in training only; set it to '
                'None in test mode'
            )
        width, height = bbox[2] - bbox[0], bbox[3] - bbox[1]
        return width < self.min_size or height < self.min_size

    def get_ann_info(self, idx):
        """bboxes / labels and bboxes_ignore / labels_ignore (difficult or
        small objects) of image ``idx``; objects of other classes are
        skipped."""
        kept, ignored = ([], []), ([], [])
        root = self._xml_root(self.data_infos[idx]['id'])
        for obj in root.findall('object'):
            name = obj.find('name').text
            if name not in self.CLASSES:
                continue
            flag = obj.find('difficult')
            difficult = 0 if flag is None else int(flag.text)
            bbox = _box_of(obj)
            target = ignored if self._is_ignored(bbox, difficult) else kept
            target[0].append(bbox)
            target[1].append(self.cat2label[name])
        bboxes, labels = _as_boxes(*kept)
        bboxes_ignore, labels_ignore = _as_boxes(*ignored)
        return dict(
            bboxes=bboxes,
            labels=labels,
            bboxes_ignore=bboxes_ignore,
            labels_ignore=labels_ignore,
        )

    def get_cat_ids(self, idx):
        """Labels of every known-class object of image ``idx``, difficult
        ones included."""
        root = self._xml_root(self.data_infos[idx]['id'])
        names = [obj.find('name').text for obj in root.findall('object')]
        return [self.cat2label[n] for n in names if n in self.CLASSES]
