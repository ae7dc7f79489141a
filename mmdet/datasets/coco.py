"""COCO-format detection / instance segmentation data set and its
evaluation (pycocotools' COCOeval, MMDetection 2.x's metric names)."""

import contextlib
import io
import logging
import os.path as osp
import tempfile
import warnings
from collections import Counter, OrderedDict

import mmcv
import numpy as np
import pycocotools.mask as mask_utils
from terminaltables import AsciiTable

from mmdet.core.evaluation import average_recall
from mmdet.core.visualization import generated_palette
from mmdet.core.visualization.palette import COCO_PALETTE
from mmdet.utils import print_log
from mmdet.utils.arg_errors import (
    InvalidArgumentError,
    InvalidArgumentTypeError,
)
from .api_wrappers import (
    COCO,
    AnnotationFileError,
    COCOeval,
    has_mask,
    segmentation_problem,
)
from .custom import CustomDataset
from .registry import DATASETS

# index of each metric in COCOeval.stats
COCO_METRIC_NAMES = {
    'mAP': 0,
    'mAP_50': 1,
    'mAP_75': 2,
    'mAP_s': 3,
    'mAP_m': 4,
    'mAP_l': 5,
    'AR@100': 6,
    'AR@300': 7,
    'AR@1000': 8,
    'AR_s@1000': 9,
    'AR_m@1000': 10,
    'AR_l@1000': 11,
}
DET_METRIC_ITEMS = ['mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l']
PROPOSAL_METRIC_ITEMS = [
    'AR@100',
    'AR@300',
    'AR@1000',
    'AR_s@1000',
    'AR_m@1000',
    'AR_l@1000',
]


def xyxy2xywh(bbox):
    """``[x1, y1, x2, y2, ...]`` -> COCO's ``[x, y, w, h]`` (floats)."""
    x1, y1, x2, y2 = (float(v) for v in bbox[:4])
    return [x1, y1, x2 - x1, y2 - y1]


def _rle_for_json(segm):
    """An RLE dict with str counts; binary masks are encoded first."""
    if not isinstance(segm, dict):
        segm = mask_utils.encode(
            np.asfortranarray(np.asarray(segm).astype(np.uint8))
        )
    counts = segm['counts']
    if isinstance(counts, bytes):
        counts = counts.decode()
    return dict(size=list(segm['size']), counts=counts)


@DATASETS.register_module()
class CocoDataset(CustomDataset):
    """A data set in COCO's JSON format (the 80 COCO classes by default;
    ``classes=`` picks categories of any COCO-format file by name).

    Category ids map to labels ``0..K-1`` in the order the annotation file
    lists the categories. Boxes ``[x, y, w, h]`` become ``[x1, y1, x1 + w,
    y1 + h]``; crowd objects become ``gt_bboxes_ignore``. For training,
    images without objects (``filter_empty_gt``) and images with a side
    under 32 pixels are dropped; a training set left without images or
    objects is an error saying why.

    The file is checked when it is loaded: JSON syntax (file, line,
    column), unique image and annotation ids, well-formed segmentations
    (always), and present ones where the pipeline loads masks.
    """

    CLASSES = (
        'person',
        'bicycle',
        'car',
        'motorcycle',
        'airplane',
        'bus',
        'train',
        'truck',
        'boat',
        'traffic light',
        'fire hydrant',
        'stop sign',
        'parking meter',
        'bench',
        'bird',
        'cat',
        'dog',
        'horse',
        'sheep',
        'cow',
        'elephant',
        'bear',
        'zebra',
        'giraffe',
        'backpack',
        'umbrella',
        'handbag',
        'tie',
        'suitcase',
        'frisbee',
        'skis',
        'snowboard',
        'sports ball',
        'kite',
        'baseball bat',
        'baseball glove',
        'skateboard',
        'surfboard',
        'tennis racket',
        'bottle',
        'wine glass',
        'cup',
        'fork',
        'knife',
        'spoon',
        'bowl',
        'banana',
        'apple',
        'sandwich',
        'orange',
        'broccoli',
        'carrot',
        'hot dog',
        'pizza',
        'donut',
        'cake',
        'chair',
        'couch',
        'potted plant',
        'bed',
        'dining table',
        'toilet',
        'tv',
        'laptop',
        'mouse',
        'remote',
        'keyboard',
        'cell phone',
        'microwave',
        'oven',
        'toaster',
        'sink',
        'refrigerator',
        'book',
        'clock',
        'vase',
        'scissors',
        'teddy bear',
        'hair drier',
        'toothbrush',
    )

    PALETTE = COCO_PALETTE

    def xyxy2xywh(self, bbox):
        """``[x1, y1, x2, y2, ...]`` -> COCO's ``[x, y, w, h]`` (a list of
        floats), as MMDetection's method."""
        return xyxy2xywh(bbox)

    # -- annotations ----------------------------------------------------

    def load_annotations(self, ann_file):
        """Read the COCO JSON; returns the image infos (``filename`` added)."""
        with contextlib.redirect_stdout(io.StringIO()):
            self.coco = COCO(ann_file, prepare=self._prepare_coco_dict)
        self.cat_ids = self._category_ids()
        self.cat2label = {cat_id: i for i, cat_id in enumerate(self.cat_ids)}
        self.img_ids = self.coco.get_img_ids()
        data_infos = []
        for img_id in self.img_ids:
            info = dict(self.coco.load_imgs([img_id])[0])
            info['filename'] = info['file_name']
            data_infos.append(info)
        self._check_segmentations(ann_file)
        return data_infos

    def _prepare_coco_dict(self, dataset):
        """Hook for subclasses to adapt the parsed JSON (in place) before
        it is checked and indexed."""

    def _used_without_mask(self):
        """Ids of the annotations training takes masks of (known category,
        not crowd, not ignored) that have no segmentation."""
        return [
            a['id']
            for a in self.coco.dataset.get('annotations', [])
            if a.get('category_id') in self.cat2label
            and not a.get('iscrowd', False)
            and not a.get('ignore', False)
            and not has_mask(a)
        ]

    def _check_segmentations(self, ann_file):
        """Refuse malformed segmentations (always) and missing or empty
        ones where the training pipeline loads masks; name the file and
        the annotation ids."""
        problems = []
        for ann in self.coco.dataset.get('annotations', []):
            problem = segmentation_problem(
                ann.get('segmentation'),
                self.coco.imgs.get(ann.get('image_id')),
            )
            if problem:
                problems.append((ann['id'], problem))
        if (
            not problems
            and getattr(self, 'loads_masks', False)
            and not self.test_mode
        ):
            problems = [
                (
                    i,
                    'no segmentation (missing or empty), but the '
                    'pipeline loads masks (LoadAnnotations(with_mask='
                    'True))',
                )
                for i in self._used_without_mask()
            ]
        if problems:
            listed = '; '.join(
                f'annotation {i}: {what}' for i, what in problems[:10]
            )
            raise AnnotationFileError(
                f'{ann_file!r}: {len(problems)} annotations have unusable '
                f'segmentations ({listed}). A mask is a list of polygons '
                '[[x1, y1, x2, y2, x3, y3, ...], ...] of at least 3 points '
                "each, or an RLE dict with 'size' [height, width] of its "
                "image and 'counts'. Repair or delete these annotations "
                '(or their segmentations, when you train boxes only).'
            )

    def _check_gt_masks(self):
        """segm evaluation needs a mask for every ground truth object of
        the evaluated images and classes."""
        img_ids, cat_ids = set(self.img_ids), set(self.cat_ids)
        missing = [
            a['id']
            for a in self.coco.anns.values()
            if a['image_id'] in img_ids
            and a['category_id'] in cat_ids
            and not has_mask(a)
        ]
        if missing:
            raise AnnotationFileError(
                f'segm evaluation needs a mask for every ground truth '
                f'object, but {len(missing)} annotations of '
                f'{self.ann_file!r} have no segmentation (missing or '
                f'empty), e.g. annotation {missing[0]} (ids: '
                f'{missing[:10]}). Add their masks or evaluate bbox only.'
            )

    def _category_ids(self):
        """Ids of the categories named in CLASSES, in the file's order;
        without CLASSES (the large vocabularies: LVIS, Objects365) all the
        file's categories, whose names become CLASSES."""
        if self.CLASSES is None:
            cats = self.coco.dataset.get('categories', [])
            self.CLASSES = tuple(c['name'] for c in cats)
            self.PALETTE = generated_palette(len(self.CLASSES))
            return [c['id'] for c in cats]
        by_name = {
            c['name']: c['id'] for c in self.coco.dataset.get('categories', [])
        }
        missing = [name for name in self.CLASSES if name not in by_name]
        message = (
            f'classes {missing} are not categories of {self.ann_file!r} '
            f'(it has {sorted(by_name)}); set `classes=` in the data set '
            'config to its class names'
        )
        if len(missing) == len(self.CLASSES):
            raise ValueError(message)
        if missing:
            # MMDetection numbers the categories found and ignores the
            # rest, so labels no longer match the positions in CLASSES
            warnings.warn(
                message + '. As in MMDetection, the labels number the '
                'classes found, so they shift against CLASSES'
            )
        cat_ids = self.coco.get_cat_ids(cat_names=list(self.CLASSES))
        found = [by_name[n] for n in self.CLASSES if n in by_name]
        if found != list(cat_ids):
            warnings.warn(
                'CLASSES are not in the annotation file\'s '
                'category order; labels follow the file order'
            )
        return cat_ids

    def get_ann_info(self, idx):
        """Ground truth of image ``idx``.

        Returns:
            dict: ``bboxes`` (n, 4) float32, ``labels`` (n,) int64,
            ``bboxes_ignore`` (k, 4) float32 (crowd), ``masks`` (n COCO
            segmentations), ``seg_map`` (file name of a segmentation map).
        """
        img_info = self.data_infos[idx]
        ann_ids = self.coco.get_ann_ids(img_ids=[img_info['id']])
        return self._parse_ann_info(img_info, self.coco.load_anns(ann_ids))

    def get_cat_ids(self, idx):
        """Category ids (not labels) of the objects in image ``idx``."""
        ann_ids = self.coco.get_ann_ids(img_ids=[self.data_infos[idx]['id']])
        return [ann['category_id'] for ann in self.coco.load_anns(ann_ids)]

    def _parse_ann_info(self, img_info, ann_info):
        """Keep objects of known categories with a positive area inside the
        image; split crowd objects off as ignored boxes."""
        anns = [
            a
            for a in ann_info
            if not a.get('ignore', False)
            and a['category_id'] in self.cat2label
        ]
        xywh = np.array([a['bbox'] for a in anns], dtype=np.float64).reshape(
            -1, 4
        )
        xyxy = np.concatenate(
            [xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], 1
        ).astype(np.float32)
        inter_w = np.minimum(xyxy[:, 2], img_info['width']) - np.maximum(
            xyxy[:, 0], 0
        )
        inter_h = np.minimum(xyxy[:, 3], img_info['height']) - np.maximum(
            xyxy[:, 1], 0
        )
        area = np.array([a.get('area', 1) for a in anns], dtype=np.float32)
        valid = (
            (np.maximum(inter_w, 0) * np.maximum(inter_h, 0) > 0)
            & (area > 0)
            & (xywh[:, 2] >= 1)
            & (xywh[:, 3] >= 1)
        )
        crowd = np.array(
            [bool(a.get('iscrowd', False)) for a in anns], dtype=bool
        )
        keep = valid & ~crowd
        labels = np.array(
            [self.cat2label[a['category_id']] for a in anns], dtype=np.int64
        )
        name = img_info['filename']
        return dict(
            bboxes=xyxy[keep].reshape(-1, 4),
            labels=labels[keep],
            bboxes_ignore=xyxy[valid & crowd].reshape(-1, 4),
            masks=[a.get('segmentation') for a, k in zip(anns, keep) if k],
            seg_map=name.rsplit('.', 1)[0] + self.seg_suffix,
        )

    def _filter_imgs(self, min_size=32):
        """Training images: with at least one annotation of the selected
        categories (when ``filter_empty_gt``) and both sides >= min_size."""
        ids_with_ann = {a['image_id'] for a in self.coco.anns.values()}
        ids_in_cat = set()
        for cat_id in self.cat_ids:
            ids_in_cat |= set(self.coco.cat_img_map[cat_id])
        ids_in_cat &= ids_with_ann
        valid, valid_ids = [], []
        for i, (img_id, info) in enumerate(zip(self.img_ids, self.data_infos)):
            if self.filter_empty_gt and img_id not in ids_in_cat:
                continue
            if min(info['width'], info['height']) >= min_size:
                valid.append(i)
                valid_ids.append(img_id)
        self.img_ids = valid_ids
        return valid

    def _drop_reasons(self, read_infos):
        """Why the images ``read_infos`` were left out of training."""
        with_ann = {a['image_id'] for a in self.coco.anns.values()}
        in_cat = set()
        for cat_id in self.cat_ids:
            in_cat |= set(self.coco.cat_img_map[cat_id])
        no_ann = other = small = 0
        other_cats = Counter()
        for info in read_infos:
            if self.filter_empty_gt and info['id'] not in with_ann:
                no_ann += 1
            elif self.filter_empty_gt and info['id'] not in in_cat:
                other += 1
                other_cats.update(
                    self.coco.cats.get(a['category_id'], {}).get(
                        'name', f"id {a['category_id']}"
                    )
                    for a in self.coco.img_ann_map[info['id']]
                )
            elif min(info['width'], info['height']) < 32:
                small += 1
        names = ', '.join(map(repr, sorted(other_cats)[:10]))
        return [
            (no_ann, 'have no annotations'),
            (
                other,
                f'have only objects of categories not in `classes` ({names})',
            ),
            (small, 'have a side under 32 pixels'),
        ]

    def _object_drop_reasons(self):
        """Why the annotations of the training images give no object."""
        counts = Counter()
        kept = set(self.img_ids)
        for ann in self.coco.anns.values():
            if ann['image_id'] not in kept:
                continue
            if ann['category_id'] not in self.cat2label:
                counts['are of categories not in `classes`'] += 1
            elif ann.get('ignore', False):
                counts["are marked 'ignore'"] += 1
            elif ann.get('iscrowd', False):
                counts['are crowd regions'] += 1
            else:
                counts[
                    'have a box under 1 pixel wide or high, of zero '
                    'area or outside the image'
                ] += 1
        return [(n, f'annotations {why}') for why, n in counts.items()]

    # -- results to COCO JSON -------------------------------------------

    def _proposal2json(self, results):
        """(n, 5) proposals per image -> COCO results (category 1)."""
        return [
            dict(
                image_id=img_id,
                bbox=xyxy2xywh(box),
                score=float(box[4]),
                category_id=1,
            )
            for img_id, boxes in zip(self.img_ids, results)
            for box in boxes
        ]

    def _det2json(self, results):
        """Per image, per class (n, 5) boxes -> COCO results."""
        return [
            dict(
                image_id=img_id,
                bbox=xyxy2xywh(box),
                score=float(box[4]),
                category_id=self.cat_ids[label],
            )
            for img_id, result in zip(self.img_ids, results)
            for label, boxes in enumerate(result)
            for box in boxes
        ]

    def _segm2json(self, results):
        """``(bbox_results, segm_results)`` per image -> (box results, mask
        results). Masks may be RLE dicts or binary arrays; a
        ``(masks, mask_scores)`` pair gives the mask scores, otherwise the
        box scores are used."""
        bbox_json, segm_json = [], []
        for img_id, (det, seg) in zip(self.img_ids, results):
            for label, boxes in enumerate(det):
                cat_id = self.cat_ids[label]
                if isinstance(seg, tuple):
                    segms, scores = seg[0][label], seg[1][label]
                else:
                    segms, scores = seg[label], [b[4] for b in boxes]
                if len(segms) != len(boxes):
                    raise ValueError(
                        f'image {img_id}, class {label}: {len(boxes)} boxes '
                        f'but {len(segms)} masks'
                    )
                for box, segm, score in zip(boxes, segms, scores):
                    bbox_json.append(
                        dict(
                            image_id=img_id,
                            bbox=xyxy2xywh(box),
                            score=float(box[4]),
                            category_id=cat_id,
                        )
                    )
                    segm_json.append(
                        dict(
                            image_id=img_id,
                            bbox=xyxy2xywh(box),
                            score=float(score),
                            category_id=cat_id,
                            segmentation=_rle_for_json(segm),
                        )
                    )
        return bbox_json, segm_json

    def results2json(self, results, outfile_prefix):
        """Write COCO result JSON files.

        ``<prefix>.bbox.json`` for box results (also the file evaluated for
        'proposal'), ``<prefix>.segm.json`` for masks,
        ``<prefix>.proposal.json`` for (n, 5) proposal arrays.

        Returns:
            dict[str, str]: metric -> file.
        """
        files = {}
        if isinstance(results[0], list):
            files['bbox'] = files['proposal'] = f'{outfile_prefix}.bbox.json'
            mmcv.dump(self._det2json(results), files['bbox'])
        elif isinstance(results[0], tuple):
            bbox_json, segm_json = self._segm2json(results)
            files['bbox'] = files['proposal'] = f'{outfile_prefix}.bbox.json'
            files['segm'] = f'{outfile_prefix}.segm.json'
            mmcv.dump(bbox_json, files['bbox'])
            mmcv.dump(segm_json, files['segm'])
        elif isinstance(results[0], np.ndarray):
            files['proposal'] = f'{outfile_prefix}.proposal.json'
            mmcv.dump(self._proposal2json(results), files['proposal'])
        else:
            raise TypeError(f'unknown result type {type(results[0])}')
        return files

    def format_results(self, results, jsonfile_prefix=None, **kwargs):
        """Results -> COCO JSON files.

        Args:
            results (list): one result per image, in data set order.
            jsonfile_prefix (str | None): file prefix (``a/b/prefix``);
                None writes to a temporary directory.

        Returns:
            tuple: (files dict, the TemporaryDirectory or None); clean the
            directory up when done.
        """
        if not isinstance(results, list):
            raise InvalidArgumentTypeError('results must be a list')
        if len(results) != len(self):
            raise InvalidArgumentError(
                f'{len(results)} results for a data set of {len(self)} images'
            )
        tmp_dir = None
        if jsonfile_prefix is None:
            tmp_dir = tempfile.TemporaryDirectory()
            jsonfile_prefix = osp.join(tmp_dir.name, 'results')
        else:
            mmcv.mkdir_or_exist(osp.dirname(osp.abspath(jsonfile_prefix)))
        return self.results2json(results, jsonfile_prefix), tmp_dir

    # -- evaluation -----------------------------------------------------

    def fast_eval_recall(self, results, proposal_nums, iou_thrs, logger=None):
        """Average recall of proposals (per image (n, 5) arrays or box
        results) against the non-crowd ground truth boxes."""
        gt_bboxes = [self.get_ann_info(i)['bboxes'] for i in range(len(self))]
        proposals = [
            r if isinstance(r, np.ndarray) else np.vstack(r) for r in results
        ]
        return average_recall(gt_bboxes, proposals, proposal_nums, iou_thrs)

    def evaluate(
        self,
        results,
        metric='bbox',
        logger=None,
        jsonfile_prefix=None,
        classwise=False,
        proposal_nums=(100, 300, 1000),
        iou_thrs=None,
        metric_items=None,
    ):
        """COCO evaluation.

        Args:
            results (list): per image, a list of ``num_classes`` (n, 5)
                arrays; ``(bbox_results, segm_results)`` for masks (RLE
                dicts or binary masks); or (n, 5) proposals.
            metric (str | list[str]): 'bbox', 'segm', 'proposal',
                'proposal_fast'.
            logger (logging.Logger | str | None): where the COCOeval summary
                goes (print_log semantics).
            jsonfile_prefix (str | None): keep the result JSON files there.
            classwise (bool): log a per-class AP table.
            proposal_nums (Sequence[int]): the maxDets of COCOeval and the
                proposal numbers of the recall metrics.
            iou_thrs (Sequence[float] | None): default 0.50:0.05:0.95.
            metric_items (str | list[str] | None): which numbers to return;
                default mAP, mAP_50, mAP_75, mAP_s, mAP_m, mAP_l (prefixed
                with the metric) or the six AR numbers for proposals.

        Returns:
            dict: e.g. ``bbox_mAP``, ``bbox_mAP_50``, ..., ``bbox_mAP_l``,
            ``bbox_mAP_copypaste`` and the same for ``segm``.
        """
        metrics = metric if isinstance(metric, list) else [metric]
        allowed = ['bbox', 'segm', 'proposal', 'proposal_fast']
        for m in metrics:
            if m not in allowed:
                raise KeyError(
                    f'metric {m!r} is not supported; choose from {allowed}'
                )
        if iou_thrs is None:
            iou_thrs = np.linspace(
                0.5,
                0.95,
                int(np.round((0.95 - 0.5) / 0.05)) + 1,
                endpoint=True,
            )
        if metric_items is not None and not isinstance(metric_items, list):
            metric_items = [metric_items]
        for item in metric_items or []:
            if item not in COCO_METRIC_NAMES:
                raise KeyError(
                    f'metric item {item!r} is not supported; '
                    f'choose from {list(COCO_METRIC_NAMES)}'
                )
        if 'segm' in metrics:
            self._check_gt_masks()
        result_files, tmp_dir = self.format_results(results, jsonfile_prefix)
        try:
            return self.evaluate_det_segm(
                results,
                result_files,
                metrics,
                logger,
                classwise,
                proposal_nums,
                iou_thrs,
                metric_items,
            )
        finally:
            if tmp_dir is not None:
                tmp_dir.cleanup()

    def evaluate_det_segm(
        self,
        results,
        result_files,
        metrics,
        logger=None,
        classwise=False,
        proposal_nums=(100, 300, 1000),
        iou_thrs=None,
        metric_items=None,
    ):
        """Run COCOeval for each metric on the written result files."""
        eval_results = OrderedDict()
        for metric in metrics:
            msg = f'Evaluating {metric}...'
            print_log(msg if logger is not None else '\n' + msg, logger=logger)
            if metric == 'proposal_fast':
                if isinstance(results[0], tuple):
                    raise KeyError(
                        'proposal_fast does not take instance '
                        'segmentation results'
                    )
                recalls = self.fast_eval_recall(
                    results, proposal_nums, iou_thrs
                )
                for num, recall in zip(proposal_nums, recalls):
                    eval_results[f'AR@{num}'] = float(recall)
                print_log(
                    ''.join(
                        f'\nAR@{n}\t{r:.4f}'
                        for n, r in zip(proposal_nums, recalls)
                    ),
                    logger=logger,
                )
                continue
            if metric not in result_files:
                raise KeyError(
                    f'{metric} is not in the results (segm needs mask results)'
                )
            coco_eval = self._run_cocoeval(
                metric, result_files[metric], proposal_nums, iou_thrs, logger
            )
            if coco_eval is None:
                break
            if metric == 'proposal':
                for item in metric_items or PROPOSAL_METRIC_ITEMS:
                    eval_results[item] = float(
                        f'{coco_eval.stats[COCO_METRIC_NAMES[item]]:.3f}'
                    )
                continue
            if classwise:
                print_log(
                    '\n' + self._classwise_table(coco_eval), logger=logger
                )
            for item in metric_items or DET_METRIC_ITEMS:
                eval_results[f'{metric}_{item}'] = float(
                    f'{coco_eval.stats[COCO_METRIC_NAMES[item]]:.3f}'
                )
            ap = coco_eval.stats[:6]
            eval_results[f'{metric}_mAP_copypaste'] = ' '.join(
                f'{v:.3f}' for v in ap
            )
        return eval_results

    def _run_cocoeval(
        self, metric, result_file, proposal_nums, iou_thrs, logger
    ):
        """Evaluate one result file; logs COCOeval's summary. Returns the
        COCOeval, or None when there is no result at all."""
        iou_type = 'bbox' if metric == 'proposal' else metric
        predictions = mmcv.load(result_file)
        if len(predictions) == 0:
            print_log(
                'The testing results of the whole dataset is empty.',
                logger=logger,
                level=logging.ERROR,
            )
            return None
        if iou_type == 'segm':
            # with a 'bbox' key pycocotools takes the box area as the
            # instance area; drop it so mask areas decide small/medium/large
            for pred in predictions:
                pred.pop('bbox', None)
        with contextlib.redirect_stdout(io.StringIO()):
            coco_det = self.coco.loadRes(predictions)
        coco_eval = COCOeval(self.coco, coco_det, iou_type)
        coco_eval.params.catIds = self.cat_ids
        coco_eval.params.imgIds = self.img_ids
        coco_eval.params.maxDets = list(proposal_nums)
        coco_eval.params.iouThrs = np.asarray(iou_thrs)
        if metric == 'proposal':
            coco_eval.params.useCats = 0
        summary = io.StringIO()
        with contextlib.redirect_stdout(summary):
            coco_eval.evaluate()
            coco_eval.accumulate()
            coco_eval.summarize()
        print_log('\n' + summary.getvalue(), logger=logger)
        return coco_eval

    def _classwise_table(self, coco_eval):
        """A terminaltables table with one row per class: its AP over the
        IoU thresholds, at IoU 0.5 and 0.75, and for small / medium / large
        objects (largest maxDets)."""
        precisions = coco_eval.eval['precision']  # (T, R, K, A, M)
        if precisions.shape[2] != len(self.cat_ids):
            raise RuntimeError(
                'COCOeval returned precisions for '
                f'{precisions.shape[2]} classes, expected '
                f'{len(self.cat_ids)}'
            )
        iou_thrs = np.asarray(coco_eval.params.iouThrs)

        def mean_ap(k, iou_index=slice(None), area=0):
            precision = precisions[iou_index, :, k, area, -1]
            precision = precision[precision > -1]
            return f'{np.mean(precision):0.3f}' if precision.size else 'nan'

        def iou_index(thr):
            found = np.flatnonzero(np.isclose(iou_thrs, thr))
            return found[:1] if found.size else None

        rows = [
            ['category', 'mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l']
        ]
        for k, cat_id in enumerate(self.cat_ids):
            at = [iou_index(0.5), iou_index(0.75)]
            rows.append(
                [
                    self.coco.load_cats([cat_id])[0]['name'],
                    mean_ap(k),
                    *[mean_ap(k, i) if i is not None else 'nan' for i in at],
                    *[mean_ap(k, area=a) for a in (1, 2, 3)],
                ]
            )
        return AsciiTable(rows).table
