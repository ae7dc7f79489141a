"""Open Images v6 and the Open Images Challenge 2019 (MMDetection 2.x's
``OpenImagesDataset`` / ``OpenImagesChallengeDataset``).

Boxes are stored normalised to [0, 1] (the training pipeline scales them
with ``LoadAnnotations(denorm_bbox=True)``); evaluation scales the ground
truth by each image's size, from ``meta_file`` (a .pkl list of
``{'filename', 'ori_shape'}``, written by tools/misc/get_image_metas.py)
or, with ``load_from_file=False``, from the image files. The class
hierarchy adds every box to its ancestor classes ('supercategories'),
and detections are kept only for classes the image is labelled with
(boxes or image-level labels), as the official metric does.
"""

import copy
import csv
import json
import os.path as osp
import warnings
from collections import OrderedDict, defaultdict

import mmcv
import numpy as np
from mmcv.utils import print_log
from PIL import Image

from mmdet.core.evaluation import eval_map
from mmdet.core.evaluation.mean_ap import tpfp_openimages
from mmdet.utils.arg_errors import InvalidArgumentError
from .custom import CustomDataset
from .registry import DATASETS


def _read_csv(path, skip_header):
    with open(path, newline='') as f:
        rows = list(csv.reader(f))
    return rows[1:] if skip_header else rows


def _flags(rows, column):
    return np.array([int(r[column]) == 1 for r in rows], dtype=bool)


@DATASETS.register_module()
class OpenImagesDataset(CustomDataset):
    """Open Images v6 csv annotations.

    Args:
        ann_file (str): the box csv (ImageID, Source, LabelName,
            Confidence, XMin, XMax, YMin, YMax, IsOccluded, IsTruncated,
            IsGroupOf, IsDepiction, IsInside).
        label_file (str): class csv (LabelName, DisplayName), label order.
        image_level_ann_file (str): image-level label csv (ImageID,
            Source, LabelName, Confidence).
        get_supercategory (bool): add each box to its ancestor classes.
        hierarchy_file (str | None): the class hierarchy (.json here).
        get_metas (bool): take image sizes for evaluation from metas.
        load_from_file (bool): from ``meta_file`` (else the image files).
        meta_file (str): the .pkl of image metas.
        filter_labels (bool): drop detections of classes the image is not
            labelled with.
        load_image_level_labels (bool): read ``image_level_ann_file``.
        file_client_args (dict): ``mmcv.FileClient`` arguments.
        **kwargs: ``CustomDataset``'s arguments.
    """

    CLASSES = None

    def __init__(
        self,
        ann_file,
        label_file='',
        image_level_ann_file='',
        get_supercategory=True,
        hierarchy_file=None,
        get_metas=True,
        load_from_file=True,
        meta_file='',
        filter_labels=True,
        load_image_level_labels=True,
        file_client_args=dict(backend='disk'),
        **kwargs,
    ):
        if not label_file.endswith('csv'):
            raise InvalidArgumentError(
                f'label_file must be a .csv file, got {label_file!r}'
            )
        self.cat2label = defaultdict(str)
        self.index_dict = {}
        class_names = self.get_classes_from_csv(label_file)
        kwargs.setdefault('classes', class_names)
        super().__init__(
            ann_file=ann_file, file_client_args=file_client_args, **kwargs
        )
        self.CLASSES = class_names
        self.image_level_ann_file = image_level_ann_file
        self.load_image_level_labels = load_image_level_labels
        self.get_supercategory = get_supercategory
        if get_supercategory:
            if hierarchy_file is None:
                raise InvalidArgumentError(
                    'get_supercategory=True needs a hierarchy_file'
                )
            self.class_label_tree = self.get_relation_matrix(hierarchy_file)
        self.get_metas = get_metas
        self.load_from_file = load_from_file
        self.meta_file = _join(self.data_root, meta_file)
        self.filter_labels = filter_labels
        self.test_img_shapes = []

    # -- classes and hierarchy ------------------------------------------

    def get_classes_from_csv(self, label_file):
        """Class names in file order; fills ``index_dict`` (LabelName ->
        label) and ``cat2label`` (LabelName -> name)."""
        rows = _read_csv(label_file, skip_header=False)
        for row in rows:
            self.cat2label[row[0]] = row[1]
        self.index_dict = {row[0]: i for i, row in enumerate(rows)}
        return [row[1] for row in rows]

    def get_relation_matrix(self, hierarchy_file):
        """(C, C) matrix: [i, j] = 1 where j is i or an ancestor of i."""
        if not hierarchy_file.endswith('json'):
            raise InvalidArgumentError(
                f'hierarchy_file must be a .json file, got {hierarchy_file!r}'
            )
        with open(hierarchy_file) as f:
            hierarchy = json.load(f)
        tree = np.eye(len(self.CLASSES))
        self._mark_ancestors(hierarchy, tree, [])
        return tree

    def _mark_ancestors(self, node, tree, ancestors):
        for child in node.get('Subcategory', []):
            if 'LabelName' not in child:
                continue
            name = child['LabelName']
            if name not in self.index_dict:
                raise KeyError(
                    f'hierarchy class {name!r} is not in the label file'
                )
            index = self.index_dict[name]
            tree[index, ancestors] = 1
            self._mark_ancestors(child, tree, [index] + ancestors)

    # -- annotations ----------------------------------------------------

    def load_annotations(self, ann_file):
        """One info (img_id, filename) per image, in file order; the boxes
        go to ``ann_infos[img_id]``."""
        self.ann_infos = defaultdict(list)
        data_infos = []
        for row in _read_csv(ann_file, skip_header=True):
            img_id = row[0]
            if row[2] not in self.index_dict:
                raise KeyError(
                    f'{ann_file}: class {row[2]!r} is not in the label file'
                )
            if img_id not in self.ann_infos:
                data_infos.append(
                    dict(img_id=img_id, filename=f'{img_id}.jpg')
                )
            self.ann_infos[img_id].append(row)
        return data_infos

    def get_ann_info(self, idx):
        """Normalised (n, 4) boxes, labels, empty ignores and the (n,) bool
        flags gt_is_group_ofs, is_occludeds, is_truncateds, is_depictions,
        is_insides."""
        rows = self.ann_infos[self.data_infos[idx]['img_id']]
        boxes = [[float(r[i]) for i in (4, 6, 5, 7)] for r in rows]
        return dict(
            bboxes=np.array(boxes, np.float32).reshape(-1, 4),
            labels=np.array(
                [self.index_dict[r[2]] for r in rows], dtype=np.int64
            ),
            bboxes_ignore=np.zeros((0, 4), np.float32),
            labels_ignore=np.zeros((0,), np.int64),
            gt_is_group_ofs=_flags(rows, 10),
            is_occludeds=_flags(rows, 8),
            is_truncateds=_flags(rows, 9),
            is_depictions=_flags(rows, 11),
            is_insides=_flags(rows, 12),
        )

    def get_cat_ids(self, idx):
        return self.get_ann_info(idx)['labels'].tolist()

    def _filter_imgs(self, min_size=32):
        if self.filter_empty_gt:
            warnings.warn(
                'OpenImageDatasets does not support filtering empty gt images.'
            )
        return list(range(len(self.data_infos)))

    def _set_group_flag(self):
        self.flag = np.zeros(len(self), dtype=np.uint8)

    def _image_file(self, idx):
        return self.data_infos[idx]['filename']

    def _image_id(self, idx):
        return self.data_infos[idx]['img_id']

    # -- evaluation -----------------------------------------------------

    def load_image_label_from_csv(self, image_level_ann_file):
        """img_id -> [dict(image_level_label, confidence)]."""
        items = defaultdict(list)
        for row in _read_csv(image_level_ann_file, skip_header=True):
            items[row[0]].append(
                dict(
                    image_level_label=int(self.index_dict[row[2]]),
                    confidence=float(row[3]),
                )
            )
        return items

    def get_image_level_ann(self, image_level_ann_file):
        """Per image: image_level_labels (int64) and confidences."""
        items = self.load_image_label_from_csv(image_level_ann_file)
        anns = []
        for idx in range(len(self)):
            found = items.get(self._image_id(idx), [])
            anns.append(
                dict(
                    image_level_labels=np.array(
                        [o['image_level_label'] for o in found], np.int64
                    ),
                    confidences=np.array(
                        [o['confidence'] for o in found], np.float32
                    ),
                )
            )
        return anns

    def get_meta_from_file(self, meta_file=''):
        """Image (h, w) per image from a metas .pkl in data set order."""
        metas = mmcv.load(meta_file, file_format='pkl')
        if len(metas) != len(self):
            raise ValueError(
                f'{meta_file}: {len(metas)} metas for {len(self)} images'
            )
        for idx, meta in enumerate(metas):
            name = osp.basename(meta['filename'])
            if name != osp.basename(self._image_file(idx)):
                raise ValueError(
                    f'{meta_file}: meta {idx} is {name}, the data set has '
                    f'{self._image_file(idx)}'
                )
            self.test_img_shapes.append(tuple(meta['ori_shape'][:2]))

    def image_metas(self):
        """[dict(filename, ori_shape=(h, w, 3))] of every image, read from
        the image headers: the content of ``meta_file``."""
        metas = []
        for idx in range(len(self)):
            path = osp.join(self.img_prefix or '', self._image_file(idx))
            with Image.open(path) as img:
                shape = (img.height, img.width, 3)
            metas.append(dict(filename=self._image_file(idx), ori_shape=shape))
        return metas

    def _shapes_from_images(self):
        self.test_img_shapes.extend(
            m['ori_shape'][:2] for m in self.image_metas()
        )

    def denormalize_gt_bboxes(self, annotations):
        """Scale the normalised gt boxes by each image's (w, h), in place."""
        for ann, (h, w) in zip(annotations, self.test_img_shapes):
            ann['bboxes'][:, 0::2] *= w
            ann['bboxes'][:, 1::2] *= h
        return annotations

    def add_supercategory_ann(self, annotations):
        """Each gt box repeated for its class and every ancestor class."""
        out = []
        for ann in annotations:
            boxes, labels, groups = [], [], []
            for box, label, group in zip(
                ann['bboxes'], ann['labels'], ann['gt_is_group_ofs']
            ):
                for cls in np.flatnonzero(self.class_label_tree[label]):
                    boxes.append(box)
                    labels.append(cls)
                    groups.append(group)
            out.append(
                dict(
                    bboxes=np.array(boxes, np.float32).reshape(-1, 4),
                    labels=np.array(labels, np.int64),
                    bboxes_ignore=ann['bboxes_ignore'],
                    gt_is_group_ofs=np.array(groups, bool),
                )
            )
        return out

    def process_results(self, det_results, annotations, image_level_anns):
        """Per image: copy each class's detections to its ancestor classes
        the image is labelled with and (``filter_labels``) empty the
        classes it is not labelled with."""
        out = []
        for i, dets in enumerate(det_results):
            allowed = set(annotations[i]['labels'].tolist())
            if image_level_anns is not None:
                allowed |= set(image_level_anns[i]['image_level_labels'])
            new = list(dets)
            for cls in [c for c, d in enumerate(dets) if len(d)]:
                for up in np.flatnonzero(self.class_label_tree[cls]):
                    if up in allowed and up != cls:
                        new[up] = np.concatenate([new[up], dets[cls]])
                    elif up not in allowed and self.filter_labels:
                        new[up] = np.zeros((0, 5), np.float32)
            out.append(new)
        return out

    def _image_shapes(self):
        self.test_img_shapes = []
        if self.get_metas and self.load_from_file:
            if not self.meta_file.endswith('pkl'):
                raise InvalidArgumentError('File name must be pkl suffix')
            self.get_meta_from_file(self.meta_file)
        else:
            self._shapes_from_images()

    def evaluate(
        self,
        results,
        metric='mAP',
        logger=None,
        iou_thr=0.5,
        ioa_thr=0.5,
        scale_ranges=None,
        denorm_gt_bbox=True,
        use_group_of=True,
    ):
        """Open Images mAP: ``AP{iou}`` per threshold pair (rounded to 3
        decimals) and 'mAP', their mean."""
        if not isinstance(metric, str):
            if len(metric) != 1:
                raise KeyError(f'one metric at a time, got {metric}')
            metric = metric[0]
        if metric != 'mAP':
            raise KeyError(f'metric {metric} is not supported')
        annotations = [
            copy.deepcopy(self.get_ann_info(i)) for i in range(len(self))
        ]
        image_level = (
            self.get_image_level_ann(self.image_level_ann_file)
            if self.load_image_level_labels
            else None
        )
        if denorm_gt_bbox:
            self._image_shapes()
            annotations = self.denormalize_gt_bboxes(annotations)
        if self.get_supercategory:
            annotations = self.add_supercategory_ann(annotations)
            results = self.process_results(results, annotations, image_level)
        if use_group_of and ioa_thr is None:
            raise InvalidArgumentError(
                'ioa_thr must have value when using group_of in evaluation.'
            )
        iou_thrs = [iou_thr] if isinstance(iou_thr, float) else list(iou_thr)
        ioa_thrs = (
            [ioa_thr]
            if isinstance(ioa_thr, float) or ioa_thr is None
            else list(ioa_thr)
        )
        if len(ioa_thrs) != len(iou_thrs):
            raise InvalidArgumentError('one ioa_thr per iou_thr')
        eval_results = OrderedDict()
        mean_aps = []
        for iou, ioa in zip(iou_thrs, ioa_thrs):
            print_log(f'\n{"-" * 15}iou_thr, ioa_thr: {iou}, {ioa}{"-" * 15}')
            mean_ap, _ = eval_map(
                results,
                annotations,
                scale_ranges=scale_ranges,
                iou_thr=iou,
                ioa_thr=ioa,
                dataset=self.CLASSES,
                logger=logger,
                use_group_of=use_group_of,
                # 'oid_v6' / 'oid_challenge' in MMDetection; the class names
                # here keep them in the table
                tpfp_fn=tpfp_openimages,
            )
            mean_aps.append(mean_ap)
            eval_results[f'AP{int(iou * 100):02d}'] = round(mean_ap, 3)
        eval_results['mAP'] = sum(mean_aps) / len(mean_aps)
        return eval_results


def _join(root, path):
    if not path or root is None or osp.isabs(path):
        return path
    return osp.join(root, path)


@DATASETS.register_module()
class OpenImagesChallengeDataset(OpenImagesDataset):
    """Open Images Challenge 2019: a .txt annotation file (per image: the
    file name, its size line, the box count, then one ``label x1 y1 x2 y2
    is_group_of`` line per box, labels from 1, boxes normalised), a class
    csv (LabelName, DisplayName, id from 1) and a .npy class hierarchy."""

    def __init__(self, ann_file, **kwargs):
        if not ann_file.endswith('txt'):
            raise InvalidArgumentError(
                f'ann_file must be a .txt file, got {ann_file!r}'
            )
        super().__init__(ann_file=ann_file, **kwargs)

    def get_classes_from_csv(self, label_file):
        """Class names in id order; ``index_dict``: LabelName -> id - 1."""
        rows = _read_csv(label_file, skip_header=False)
        rows.sort(key=lambda r: int(r[2]))
        for row in rows:
            self.cat2label[row[0]] = row[1]
        self.index_dict = {row[0]: int(row[2]) - 1 for row in rows}
        return [row[1] for row in rows]

    def get_relation_matrix(self, hierarchy_file):
        """The .npy hierarchy matrix without its root row and column."""
        if not hierarchy_file.endswith('np') and not hierarchy_file.endswith(
            'npy'
        ):
            raise InvalidArgumentError(
                f'hierarchy_file must be a .np(y) file, got {hierarchy_file!r}'
            )
        return np.load(hierarchy_file, allow_pickle=True)[1:, 1:]

    def load_annotations(self, ann_file):
        """One dict(filename) per image; its ground truth goes to
        ``challenge_anns``."""
        with open(ann_file) as f:
            lines = [line.rstrip('\n') for line in f]
        data_infos, self.challenge_anns = [], []
        i = 0
        while i < len(lines):
            filename, count = lines[i].strip(), int(lines[i + 2])
            rows = [line.split() for line in lines[i + 3 : i + 3 + count]]
            i += 3 + count
            data_infos.append(dict(filename=filename))
            self.challenge_anns.append(
                dict(
                    bboxes=np.array(
                        [[float(v) for v in r[1:5]] for r in rows], np.float32
                    ).reshape(-1, 4),
                    labels=np.array([int(r[0]) - 1 for r in rows], np.int64),
                    bboxes_ignore=np.zeros((0, 4), np.float32),
                    gt_is_group_ofs=np.array(
                        [int(r[5]) == 1 for r in rows], bool
                    ),
                )
            )
        return data_infos

    def get_ann_info(self, idx):
        return copy.deepcopy(self.challenge_anns[idx])

    def _filter_imgs(self, min_size=32):
        kept = super()._filter_imgs(min_size)
        self.challenge_anns = [self.challenge_anns[i] for i in kept]
        return kept

    def _image_id(self, idx):
        return osp.splitext(osp.basename(self.data_infos[idx]['filename']))[0]

    def load_image_label_from_csv(self, image_level_ann_file):
        """img_id -> [dict(image_level_label, confidence)] from the
        challenge csv (ImageID, LabelName, Confidence)."""
        items = defaultdict(list)
        for row in _read_csv(image_level_ann_file, skip_header=True):
            items[row[0]].append(
                dict(
                    image_level_label=int(self.index_dict[row[1]]),
                    confidence=float(row[2]),
                )
            )
        return items
