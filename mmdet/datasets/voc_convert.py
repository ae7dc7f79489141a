"""Pascal VOC XML annotations -> the middle format or a COCO file (what
tools/dataset_converters/pascal_voc.py runs; the toolbox has no
VOCDataset).

Boxes: VOC's 1-based pixel corners minus 1, as MMDetection 2.x's
converter writes them. ``difficult`` objects go to ``bboxes_ignore``
(middle format) or become ``iscrowd: 1`` (COCO), so training and
evaluation ignore them.
"""

import os.path as osp
import xml.etree.ElementTree as ET

import numpy as np

from mmdet.core.evaluation.class_names import voc_classes


def _text(node, tag, path):
    child = node.find(tag)
    if child is None or child.text is None:
        raise ValueError(f'{path}: <{tag}> missing in <{node.tag}>')
    return child.text.strip()


def parse_voc_xml(path, classes):
    """One annotation file -> a middle-format dict (``filename`` is
    ``JPEGImages/<name>.jpg``); objects of other classes are skipped."""
    root = ET.parse(path).getroot()
    size = root.find('size')
    if size is None:
        raise ValueError(f'{path}: no <size>')
    boxes = {False: [], True: []}
    labels = {False: [], True: []}
    for obj in root.findall('object'):
        name = _text(obj, 'name', path)
        if name not in classes:
            continue
        difficult = obj.find('difficult')
        hard = difficult is not None and int(difficult.text) == 1
        bndbox = obj.find('bndbox')
        if bndbox is None:
            raise ValueError(f'{path}: an object {name!r} without <bndbox>')
        corners = [
            float(_text(bndbox, key, path)) - 1
            for key in ('xmin', 'ymin', 'xmax', 'ymax')
        ]
        boxes[hard].append(corners)
        labels[hard].append(classes.index(name))
    stem = osp.splitext(osp.basename(path))[0]

    def as_arrays(hard):
        return (
            np.array(boxes[hard], np.float32).reshape(-1, 4),
            np.array(labels[hard], np.int64),
        )

    bboxes, labels_ = as_arrays(False)
    ignore, labels_ignore = as_arrays(True)
    return dict(
        filename=f'JPEGImages/{stem}.jpg',
        width=int(_text(size, 'width', path)),
        height=int(_text(size, 'height', path)),
        ann=dict(
            bboxes=bboxes,
            labels=labels_,
            bboxes_ignore=ignore,
            labels_ignore=labels_ignore,
        ),
    )


def load_voc_split(year_dir, split, classes=None):
    """Middle-format list of ``<year_dir>/ImageSets/Main/<split>.txt``."""
    classes = list(classes or voc_classes())
    list_file = osp.join(year_dir, 'ImageSets', 'Main', f'{split}.txt')
    with open(list_file) as f:
        names = [line.strip() for line in f if line.strip()]
    return [
        parse_voc_xml(
            osp.join(year_dir, 'Annotations', f'{name}.xml'), classes
        )
        for name in names
    ]


def _coco_annotation(box, label, image_id, hard):
    x1, y1, x2, y2 = (float(v) for v in box)
    return dict(
        image_id=image_id,
        category_id=int(label) + 1,
        bbox=[x1, y1, x2 - x1, y2 - y1],
        area=(x2 - x1) * (y2 - y1),
        iscrowd=int(hard),
        segmentation=[],
    )


def middle_to_coco(infos, classes=None):
    """A COCO dictionary (boxes only) from a middle-format list."""
    classes = list(classes or voc_classes())
    images, annotations = [], []
    for image_id, info in enumerate(infos, 1):
        images.append(
            dict(
                id=image_id,
                file_name=info['filename'],
                width=info['width'],
                height=info['height'],
            )
        )
        ann = info['ann']
        for hard, key in ((False, ''), (True, '_ignore')):
            for box, label in zip(ann['bboxes' + key], ann['labels' + key]):
                annotations.append(
                    _coco_annotation(box, label, image_id, hard)
                )
    for ann_id, ann in enumerate(annotations, 1):
        ann['id'] = ann_id
    categories = [
        dict(id=i + 1, name=name, supercategory='none')
        for i, name in enumerate(classes)
    ]
    return dict(images=images, annotations=annotations, categories=categories)
