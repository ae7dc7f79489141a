"""Annotation converters behind ``tools/dataset_converters`` (MMDetection
2.x's ``pascal_voc.py`` and ``images2coco.py``): PASCAL VOC XML to the
middle format or COCO json, and a folder of images to an annotation-less
COCO json for inference."""

import os
import os.path as osp
import xml.etree.ElementTree as ET

import mmcv
import numpy as np
from PIL import Image

from mmdet.core.evaluation import voc_classes


def _boxes(rows):
    """(n, 4) float32 0-based boxes of 1-based VOC rows."""
    return np.array(rows, dtype=np.float32).reshape(-1, 4) - (1 if rows else 0)


def parse_voc_xml(xml_path, img_path, class_names=None):
    """One VOC XML file as a middle-format dict (difficult objects go to
    bboxes_ignore; boxes shifted to 0-based as ``XMLDataset`` does)."""
    label_ids = {n: i for i, n in enumerate(class_names or voc_classes())}
    root = ET.parse(xml_path).getroot()
    size = root.find('size')
    parts = {False: ([], []), True: ([], [])}
    for obj in root.findall('object'):
        flag = obj.find('difficult')
        difficult = flag is not None and int(flag.text) == 1
        box = obj.find('bndbox')
        parts[difficult][0].append(
            [
                int(float(box.find(k).text))
                for k in ('xmin', 'ymin', 'xmax', 'ymax')
            ]
        )
        name = obj.find('name').text
        if name not in label_ids:
            raise ValueError(
                f'{xml_path}: class {name!r} is not one of {list(label_ids)}'
            )
        parts[difficult][1].append(label_ids[name])
    return dict(
        filename=img_path,
        width=int(size.find('width').text),
        height=int(size.find('height').text),
        ann=dict(
            bboxes=_boxes(parts[False][0]),
            labels=np.array(parts[False][1], dtype=np.int64),
            bboxes_ignore=_boxes(parts[True][0]),
            labels_ignore=np.array(parts[True][1], dtype=np.int64),
        ),
    )


def voc_split_annotations(devkit_path, years, split):
    """Middle-format list of one split ('train', 'val', 'trainval',
    'test') of the VOC years ('2007', '2012'); None when a year lacks
    the split's id list."""
    annotations = []
    for year in years:
        listing = osp.join(
            devkit_path, f'VOC{year}/ImageSets/Main/{split}.txt'
        )
        if not osp.isfile(listing):
            return None
        for name in mmcv.list_from_file(listing):
            annotations.append(
                parse_voc_xml(
                    osp.join(devkit_path, f'VOC{year}/Annotations/{name}.xml'),
                    f'VOC{year}/JPEGImages/{name}.jpg',
                )
            )
    return annotations


def _coco_annotation(ann_id, img_id, label, box, difficult):
    x1, y1, x2, y2 = (int(v) for v in box)
    return dict(
        segmentation=[[x1, y1, x1, y2, x2, y2, x2, y1]],
        area=(x2 - x1) * (y2 - y1),
        ignore=0,
        iscrowd=int(difficult),
        image_id=img_id,
        bbox=[x1, y1, x2 - x1, y2 - y1],
        category_id=int(label),
        id=ann_id,
    )


def middle_to_coco(annotations, class_names=None):
    """Middle-format list -> COCO dict (image and category ids from 0;
    ignored boxes become iscrowd=1 annotations; box corners as a
    4-point polygon)."""
    names = class_names or voc_classes()
    coco = dict(
        images=[],
        type='instance',
        categories=[
            dict(supercategory='none', id=i, name=n)
            for i, n in enumerate(names)
        ],
        annotations=[],
    )
    for img_id, info in enumerate(annotations):
        coco['images'].append(
            dict(
                id=img_id,
                file_name=info['filename'],
                height=int(info['height']),
                width=int(info['width']),
            )
        )
        ann = info['ann']
        groups = (
            (ann['bboxes'], ann['labels'], False),
            (ann['bboxes_ignore'], ann['labels_ignore'], True),
        )
        for boxes, labels, difficult in groups:
            for box, label in zip(boxes, labels):
                coco['annotations'].append(
                    _coco_annotation(
                        len(coco['annotations']), img_id, label, box, difficult
                    )
                )
    return coco


def convert_voc(devkit_path, out_dir=None, out_format='pkl'):
    """Write ``voc07_{train,val,trainval,test}``, ``voc12_...`` and, with
    both years, ``voc0712_{train,val,trainval}`` as .pkl or COCO .json
    under ``out_dir`` (default: ``devkit_path``). Returns the paths."""
    out_dir = out_dir or devkit_path
    mmcv.mkdir_or_exist(out_dir)
    years = [
        y
        for y in ('2007', '2012')
        if osp.isdir(osp.join(devkit_path, f'VOC{y}'))
    ]
    if not years:
        raise FileNotFoundError(
            f'The devkit path {devkit_path} contains neither "VOC2007" nor '
            '"VOC2012" subfolder'
        )
    groups = [([y], f'voc{y[2:]}', True) for y in years]
    if len(years) == 2:
        groups.append((years, 'voc0712', False))
    suffix = '.json' if out_format == 'coco' else '.pkl'
    written = []
    for group, prefix, with_test in groups:
        splits = ['train', 'val', 'trainval'] + (['test'] if with_test else [])
        for split in splits:
            annotations = voc_split_annotations(devkit_path, group, split)
            if annotations is None:
                print(f'no {split}.txt in {group}: skip {prefix}_{split}')
                continue
            if out_format == 'coco':
                annotations = middle_to_coco(annotations)
            path = osp.join(out_dir, f'{prefix}_{split}{suffix}')
            mmcv.dump(annotations, path)
            written.append(path)
    return written


IMG_EXTENSIONS = ('.jpg', '.png', '.jpeg')


def collect_image_infos(img_dir, exclude_extensions=None):
    """[{filename (relative to img_dir), width, height}] of the images under
    ``img_dir`` (recursively, sorted)."""
    infos = []
    for root, _, files in sorted(os.walk(img_dir)):
        for name in sorted(files):
            lower = name.lower()
            if not lower.endswith(IMG_EXTENSIONS):
                continue
            if exclude_extensions and lower.endswith(
                tuple(exclude_extensions)
            ):
                continue
            path = osp.join(root, name)
            with Image.open(path) as img:
                width, height = img.size
            infos.append(
                dict(
                    filename=osp.relpath(path, img_dir),
                    width=width,
                    height=height,
                )
            )
    return infos


def images_to_coco(img_infos, class_names):
    """COCO dict of images without annotations (category ids from 0), the
    input of ``tools/test.py`` on unlabelled images."""
    return dict(
        images=[
            dict(
                file_name=info['filename'],
                height=info['height'],
                width=info['width'],
                id=i,
            )
            for i, info in enumerate(img_infos)
        ],
        categories=[dict(id=i, name=n) for i, n in enumerate(class_names)],
        annotations=[],
    )
