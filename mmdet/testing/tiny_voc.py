"""A PASCAL-VOC-format copy of the tiny COCO set (``make_tiny_coco``'s
output), to exercise the VOC data path end to end.

Layout written under ``devkit``::

    VOC2007/JPEGImages/<id>.jpg   VOC2007/Annotations/<id>.xml
    VOC2007/ImageSets/Main/trainval.txt (the train split)
    VOC2007/ImageSets/Main/test.txt     (the val split)

Boxes are rounded to whole pixels and written 1-based (VOC's convention,
which ``XMLDataset`` shifts back); crowd regions become ``difficult``
objects.
"""

import os
import os.path as osp
import shutil
from xml.sax.saxutils import escape

import mmcv

SPLITS = (('train', 'trainval'), ('val', 'test'))


def _object_xml(name, box, difficult):
    x1, y1, x2, y2 = box
    return (
        f'<object><name>{escape(name)}</name><pose>Unspecified</pose>'
        f'<truncated>0</truncated><difficult>{difficult}</difficult>'
        f'<bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax>'
        f'<ymax>{y2}</ymax></bndbox></object>'
    )


def coco_image_to_voc_xml(img, anns, cat_names):
    """The VOC XML text of one COCO image dict and its annotations."""
    objects = []
    for ann in anns:
        x, y, w, h = ann['bbox']
        box = (round(x) + 1, round(y) + 1, round(x + w) + 1, round(y + h) + 1)
        objects.append(
            _object_xml(
                cat_names[ann['category_id']], box, int(ann.get('iscrowd', 0))
            )
        )
    return (
        f'<annotation><folder>VOC2007</folder>'
        f'<filename>{escape(img["file_name"])}</filename>'
        f'<size><width>{img["width"]}</width><height>{img["height"]}'
        f'</height><depth>3</depth></size>{"".join(objects)}</annotation>'
    )


def tiny_coco_to_voc(tiny_root, devkit):
    """Write the VOC copy of the tiny set at ``tiny_root`` under ``devkit``;
    returns the VOC2007 folder."""
    base = osp.join(devkit, 'VOC2007')
    for sub in ('Annotations', 'JPEGImages', 'ImageSets/Main'):
        os.makedirs(osp.join(base, sub), exist_ok=True)
    for coco_split, voc_split in SPLITS:
        coco = mmcv.load(
            osp.join(tiny_root, 'annotations', f'instances_{coco_split}.json')
        )
        names = {c['id']: c['name'] for c in coco['categories']}
        by_image = {}
        for ann in coco['annotations']:
            by_image.setdefault(ann['image_id'], []).append(ann)
        ids = []
        for img in coco['images']:
            img_id = f'{coco_split}_{osp.splitext(img["file_name"])[0]}'
            ids.append(img_id)
            shutil.copy(
                osp.join(tiny_root, coco_split, img['file_name']),
                osp.join(base, 'JPEGImages', f'{img_id}.jpg'),
            )
            xml = coco_image_to_voc_xml(
                img, by_image.get(img['id'], []), names
            )
            with open(
                osp.join(base, 'Annotations', f'{img_id}.xml'), 'w'
            ) as f:
                f.write(xml)
        with open(
            osp.join(base, 'ImageSets/Main', f'{voc_split}.txt'), 'w'
        ) as f:
            f.write('\n'.join(ids) + '\n')
    return base
