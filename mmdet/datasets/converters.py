"""Annotation converters behind ``tools/dataset_converters`` (MMDetection
2.x's ``pascal_voc.py``, ``cityscapes.py`` and ``images2coco.py``): PASCAL
VOC XML to the middle format or COCO json, Cityscapes instance pngs to
COCO json (needs cityscapesscripts), and a folder of images to an
annotation-less COCO json for inference."""

import glob
import os
import os.path as osp
import xml.etree.ElementTree as ET

import mmcv
import numpy as np
import pycocotools.mask as mask_utils
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


# -- Cityscapes -------------------------------------------------------------

CITYSCAPES_SPLITS = dict(
    train='instancesonly_filtered_gtFine_train.json',
    val='instancesonly_filtered_gtFine_val.json',
    test='instancesonly_filtered_gtFine_test.json',
)
_IMG_SUFFIX = 'leftImg8bit.png'


def cityscapes_labels():
    """cityscapesscripts' label table, with the install command when the
    package is missing."""
    try:
        import cityscapesscripts.helpers.labels as cs_labels
    except ImportError as err:
        raise ImportError(
            'Converting Cityscapes needs cityscapesscripts: '
            'pip install cityscapesscripts'
        ) from err
    return cs_labels


def _instance_annotation(inst_img, inst_id, label):
    """COCO annotation (RLE mask, its box and area) of one instance id."""
    mask = np.asarray(inst_img == inst_id, dtype=np.uint8, order='F')
    rle = mask_utils.encode(mask[:, :, None])[0]
    area = mask_utils.area(rle)
    bbox = mask_utils.toBbox(rle)
    rle['counts'] = rle['counts'].decode()
    return dict(
        iscrowd=int(inst_id < 1000),
        category_id=label.id,
        bbox=bbox.tolist(),
        area=area.tolist(),
        segmentation=rle,
    )


def cityscapes_image_info(img_file, inst_file, segm_file):
    """COCO image dict of one Cityscapes image with its instances under
    'anno_info' (ids >= 1000 are objects ``label * 1000 + k``; ids below
    are crowd regions of that label; classes without instances or ignored
    in evaluation are skipped)."""
    labels = cityscapes_labels()
    inst_img = mmcv.imread(inst_file, 'unchanged')
    anno_info = []
    for inst_id in np.unique(inst_img[inst_img >= 24]):
        label = labels.id2label[
            inst_id // 1000 if inst_id >= 1000 else inst_id
        ]
        if label.hasInstances and not label.ignoreInEval:
            anno_info.append(_instance_annotation(inst_img, inst_id, label))
    city = osp.basename(osp.dirname(img_file))
    return dict(
        file_name=osp.join(city, osp.basename(img_file)),
        height=inst_img.shape[0],
        width=inst_img.shape[1],
        anno_info=anno_info,
        segm_file=osp.join(city, osp.basename(segm_file)),
    )


def cityscapes_files(img_dir, gt_dir):
    """(image, instanceIds png, labelIds png) of every image under
    ``img_dir/<city>/``."""
    files = []
    for img_file in sorted(
        glob.glob(osp.join(img_dir, '**', f'*{_IMG_SUFFIX}'), recursive=True)
    ):
        stem = osp.join(gt_dir, osp.relpath(img_file, img_dir))[
            : -len(_IMG_SUFFIX)
        ]
        files.append(
            (
                img_file,
                stem + 'gtFine_instanceIds.png',
                stem + 'gtFine_labelIds.png',
            )
        )
    return files


def cityscapes_to_coco(image_infos):
    """COCO dict of the image dicts of ``cityscapes_image_info`` (ids in
    order; the categories are Cityscapes' instance classes with their label
    ids)."""
    labels = cityscapes_labels()
    out = dict(images=[], categories=[], annotations=[])
    for img_id, info in enumerate(image_infos):
        info = dict(info, id=img_id)
        for ann in info.pop('anno_info'):
            out['annotations'].append(
                dict(ann, image_id=img_id, id=len(out['annotations']))
            )
        out['images'].append(info)
    out['categories'] = [
        dict(id=label.id, name=label.name)
        for label in labels.labels
        if label.hasInstances and not label.ignoreInEval
    ]
    if not out['annotations']:
        out.pop('annotations')  # the test split has no ground truth
    return out


def convert_cityscapes(
    cityscapes_path,
    img_dir='leftImg8bit',
    gt_dir='gtFine',
    out_dir=None,
    nproc=1,
):
    """Write ``instancesonly_filtered_gtFine_{train,val,test}.json`` for
    the splits found; returns their paths."""
    cityscapes_labels()
    out_dir = out_dir or cityscapes_path
    mmcv.mkdir_or_exist(out_dir)
    written = []
    for split, name in CITYSCAPES_SPLITS.items():
        split_img = osp.join(cityscapes_path, img_dir, split)
        if not osp.isdir(split_img):
            continue
        files = cityscapes_files(
            split_img, osp.join(cityscapes_path, gt_dir, split)
        )
        if nproc > 1:
            infos = mmcv.track_parallel_progress(_info_of, files, nproc)
        else:
            infos = [_info_of(f) for f in files]
        path = osp.join(out_dir, name)
        mmcv.dump(cityscapes_to_coco(infos), path)
        written.append(path)
    return written


def _info_of(files):
    return cityscapes_image_info(*files)
