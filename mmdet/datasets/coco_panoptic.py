"""COCO panoptic segmentation (MMDetection 2.x's ``CocoPanopticDataset``).

The annotation json lists, per image, its segments ('segments_info': id,
category_id, iscrowd, bbox, area); the segment ids are painted into a png
per image (``seg_prefix``/<image name>.png, id = R + 256 G + 256^2 B).
Things become boxes, labels and instance masks; every segment adds its
label to the semantic map (``LoadPanopticAnnotations``). Evaluation is
PQ / SQ / RQ (mmdet.core.evaluation.panoptic, the COCO panoptic API's
definition).
"""

import os.path as osp
from collections import OrderedDict, defaultdict

import mmcv
import numpy as np
from mmcv.utils import print_log

from mmdet.core.evaluation.panoptic import (
    INSTANCE_OFFSET,
    VOID,
    PQStat,
    id2rgb,
    pq_compute_single_image,
    pq_results,
    rgb2id,
)
from mmdet.core.visualization import generated_palette
from mmdet.core.visualization.palette import COCO_PALETTE
from mmdet.utils.data_files import load_json
from .coco import CocoDataset
from .registry import DATASETS

STUFF_CLASSES = (
    'banner', 'blanket', 'bridge', 'cardboard', 'counter', 'curtain',
    'door-stuff', 'floor-wood', 'flower', 'fruit', 'gravel', 'house',
    'light', 'mirror-stuff', 'net', 'pillow', 'platform', 'playingfield',
    'railroad', 'river', 'road', 'roof', 'sand', 'sea', 'shelf', 'snow',
    'stairs', 'tent', 'towel', 'wall-brick', 'wall-stone', 'wall-tile',
    'wall-wood', 'water-other', 'window-blind', 'window-other',
    'tree-merged', 'fence-merged', 'ceiling-merged', 'sky-other-merged',
    'cabinet-merged', 'table-merged', 'floor-other-merged',
    'pavement-merged', 'mountain-merged', 'grass-merged', 'dirt-merged',
    'paper-merged', 'food-other-merged', 'building-other-merged',
    'rock-merged', 'wall-other-merged', 'rug-merged',
)  # fmt: skip


class COCOPanoptic:
    """Index of a COCO panoptic json: ``imgs``, ``cats``, the segments of
    each image (``img_ann_map``) and of each category's images
    (``cat_img_map``). Segment ids repeat across images, so segments are
    addressed by image."""

    def __init__(self, annotation_file):
        self.dataset = load_json(annotation_file)
        self.imgs = {img['id']: img for img in self.dataset['images']}
        self.cats = {c['id']: c for c in self.dataset['categories']}
        self.img_ann_map = defaultdict(list)
        self.cat_img_map = defaultdict(list)
        self.pan_anns = {}
        for ann in self.dataset.get('annotations', []):
            img = self.imgs[ann['image_id']]
            self.pan_anns[ann['image_id']] = ann
            for seg in ann['segments_info']:
                seg = dict(seg, image_id=ann['image_id'])
                seg.update(height=img['height'], width=img['width'])
                self.img_ann_map[ann['image_id']].append(seg)
                self.cat_img_map[seg['category_id']].append(ann['image_id'])

    def get_cat_ids(self, cat_names=None):
        cats = self.dataset['categories']
        return [
            c['id']
            for c in cats
            if cat_names is None or c['name'] in cat_names
        ]

    def get_img_ids(self):
        return list(self.imgs)

    def load_anns_of_image(self, img_id):
        return list(self.img_ann_map.get(img_id, []))


@DATASETS.register_module()
class CocoPanopticDataset(CocoDataset):
    """The 80 COCO things and 53 stuff classes of COCO panoptic.

    Args:
        ann_file (str): the panoptic json.
        pipeline (list[dict]): the processing pipeline.
        ins_ann_file (str | None): the instance json ('bbox' / 'segm'
            evaluation of the results' 'ins_results').
        Other arguments as ``CustomDataset``'s (``seg_prefix``: the folder
        of the panoptic pngs).
    """

    THING_CLASSES = CocoDataset.CLASSES
    STUFF_CLASSES = STUFF_CLASSES
    CLASSES = THING_CLASSES + STUFF_CLASSES
    PALETTE = list(COCO_PALETTE) + generated_palette(len(STUFF_CLASSES))

    def __init__(
        self,
        ann_file,
        pipeline,
        ins_ann_file=None,
        classes=None,
        data_root=None,
        img_prefix='',
        seg_prefix=None,
        proposal_file=None,
        test_mode=False,
        filter_empty_gt=True,
        file_client_args=dict(backend='disk'),
    ):
        super().__init__(
            ann_file,
            pipeline,
            classes=classes,
            data_root=data_root,
            img_prefix=img_prefix,
            seg_prefix=seg_prefix,
            proposal_file=proposal_file,
            test_mode=test_mode,
            filter_empty_gt=filter_empty_gt,
            file_client_args=file_client_args,
        )
        self.ins_ann_file = ins_ann_file

    def load_annotations(self, ann_file):
        """Image infos with 'filename' and 'segm_file' (the png)."""
        self.coco = COCOPanoptic(ann_file)
        self.cat_ids = self.coco.get_cat_ids(list(self.CLASSES))
        self.cat2label = {cat_id: i for i, cat_id in enumerate(self.cat_ids)}
        self.categories = self.coco.cats
        self.img_ids = self.coco.get_img_ids()
        data_infos = []
        for img_id in self.img_ids:
            info = dict(self.coco.imgs[img_id])
            info['filename'] = info['file_name']
            info['segm_file'] = info['filename'].replace('jpg', 'png')
            data_infos.append(info)
        return data_infos

    def _is_thing(self, cat_id):
        return bool(self.categories[cat_id]['isthing'])

    def get_ann_info(self, idx):
        info = self.data_infos[idx]
        return self._parse_ann_info(
            info, self.coco.load_anns_of_image(info['id'])
        )

    def get_cat_ids(self, idx):
        segs = self.coco.load_anns_of_image(self.data_infos[idx]['id'])
        return [s['category_id'] for s in segs]

    def _parse_ann_info(self, img_info, ann_info):
        """Boxes and labels of the non-crowd things (crowd things: ignored
        boxes), and per segment a mask info dict(id, category, is_thing)
        for ``LoadPanopticAnnotations``."""
        bboxes, labels, ignore, mask_infos = [], [], [], []
        for seg in ann_info:
            x, y, w, h = seg['bbox']
            if seg['area'] <= 0 or w < 1 or h < 1:
                continue
            if seg['category_id'] not in self.cat2label:
                continue
            label = self.cat2label[seg['category_id']]
            is_thing = self._is_thing(seg['category_id'])
            box = [x, y, x + w, y + h]
            if is_thing and seg.get('iscrowd', False):
                ignore.append(box)
                is_thing = False
            elif is_thing:
                bboxes.append(box)
                labels.append(label)
            mask_infos.append(
                dict(id=seg['id'], category=label, is_thing=is_thing)
            )
        return dict(
            bboxes=np.array(bboxes, np.float32).reshape(-1, 4),
            labels=np.array(labels, np.int64),
            bboxes_ignore=np.array(ignore, np.float32).reshape(-1, 4),
            masks=mask_infos,
            seg_map=img_info['segm_file'],
        )

    def _filter_imgs(self, min_size=32):
        """Training images with a thing segment (``filter_empty_gt``) and
        both sides >= ``min_size``."""
        with_things = {
            img_id
            for cat_id, img_ids in self.coco.cat_img_map.items()
            if cat_id in self.categories and self._is_thing(cat_id)
            for img_id in img_ids
        }
        valid, valid_ids = [], []
        for i, info in enumerate(self.data_infos):
            if self.filter_empty_gt and info['id'] not in with_things:
                continue
            if min(info['width'], info['height']) >= min_size:
                valid.append(i)
                valid_ids.append(info['id'])
        self.img_ids = valid_ids
        return valid

    def _drop_reasons(self, read_infos):
        return [(len(read_infos), 'have no thing segment or are too small')]

    def _object_drop_reasons(self):
        return []

    # -- results --------------------------------------------------------

    def _pan_to_json(self, idx, pan):
        """One (h, w) result map (label + instance * INSTANCE_OFFSET; the
        label len(CLASSES) is VOID) -> (segment id map with VOID = 0, the
        record of the prediction json)."""
        label2cat = {v: k for k, v in self.cat2label.items()}
        pan = np.array(pan, dtype=np.int64)
        segments = []
        for seg_id in np.unique(pan).tolist():
            label = seg_id % INSTANCE_OFFSET
            if label == len(self.CLASSES):
                continue
            cat_id = label2cat[label]
            segments.append(
                dict(
                    id=int(seg_id),
                    category_id=cat_id,
                    isthing=self.categories[cat_id]['isthing'],
                    area=int((pan == seg_id).sum()),
                )
            )
        pan[pan % INSTANCE_OFFSET == len(self.CLASSES)] = VOID
        record = dict(
            image_id=self.data_infos[idx]['id'],
            segments_info=segments,
            file_name=self.data_infos[idx]['segm_file'],
        )
        return pan, record

    def results2json(self, results, outfile_prefix):
        """Write ``<prefix>.panoptic.json`` and its pngs in
        ``<dirname(prefix)>/panoptic/``; returns {'panoptic': json}."""
        outdir = osp.join(osp.dirname(outfile_prefix), 'panoptic')
        records = []
        for idx, result in enumerate(results):
            pan, record = self._pan_to_json(idx, result['pan_results'])
            mmcv.imwrite(
                id2rgb(pan)[:, :, ::-1], osp.join(outdir, record['file_name'])
            )
            records.append(record)
        path = f'{outfile_prefix}.panoptic.json'
        mmcv.dump(dict(annotations=records), path)
        return dict(panoptic=path)

    def _gt_segment_ids(self, idx):
        path = osp.join(
            self.seg_prefix or '', self.data_infos[idx]['segm_file']
        )
        return rgb2id(mmcv.imread(path, 'color', channel_order='rgb'))

    def evaluate_pan(self, results, logger=None, classwise=False):
        """PQ of the 'pan_results' maps against the gt pngs."""
        stat = PQStat()
        for idx, result in enumerate(results):
            pan, record = self._pan_to_json(idx, result['pan_results'])
            gt_ann = self.coco.pan_anns.get(
                self.data_infos[idx]['id'], dict(segments_info=[])
            )
            stat += pq_compute_single_image(
                gt_ann, record, self._gt_segment_ids(idx), pan
            )
        categories = {c: self.categories[c] for c in self.cat_ids}
        values = pq_results(stat, categories)
        if classwise:
            _, per_class = stat.pq_average(categories)
            for cat_id, v in per_class.items():
                name = self.categories[cat_id]['name']
                print_log(
                    f"{name}: PQ {100 * v['pq']:.3f} SQ {100 * v['sq']:.3f} "
                    f"RQ {100 * v['rq']:.3f}",
                    logger=logger,
                )
        print_log(
            ' '.join(f'{k} {v:.3f}' for k, v in values.items()), logger=logger
        )
        return values

    def evaluate(
        self,
        results,
        metric='PQ',
        logger=None,
        jsonfile_prefix=None,
        classwise=False,
        nproc=32,
        **kwargs,
    ):
        """'PQ': PQ, SQ, RQ and their _th (things) / _st (stuff) values in
        percent (3 decimals) and 'PQ_copypaste'; 'bbox' / 'segm': COCO AP
        of the results' 'ins_results' against ``ins_ann_file``. ``nproc``
        is accepted (MMDetection's worker count) and unused."""
        metrics = metric if isinstance(metric, list) else [metric]
        for m in metrics:
            if m not in ('PQ', 'bbox', 'segm'):
                raise KeyError(
                    f'metric {m} is not supported: CocoPanopticDataset '
                    "evaluates 'PQ', 'bbox' and 'segm'"
                )
        eval_results = OrderedDict()
        if 'PQ' in metrics:
            eval_results.update(
                self._evaluate_pq(results, logger, jsonfile_prefix, classwise)
            )
        ins_metrics = [m for m in metrics if m != 'PQ']
        if ins_metrics:
            eval_results.update(
                self.evaluate_ins(results, ins_metrics, logger, classwise)
            )
        return eval_results

    def _evaluate_pq(self, results, logger, jsonfile_prefix, classwise):
        if jsonfile_prefix is not None:
            self.results2json(results, jsonfile_prefix)
        values = self.evaluate_pan(results, logger, classwise)
        eval_results = OrderedDict(
            (k, float(f'{v:.3f}')) for k, v in values.items()
        )
        eval_results['PQ_copypaste'] = ' '.join(
            f'{v:.3f}' for v in values.values()
        )
        return eval_results

    def evaluate_ins(self, results, metrics, logger=None, classwise=False):
        """'bbox' / 'segm' AP of each result's 'ins_results' (per thing
        class boxes and masks, things in this data set's class order) by a
        ``CocoDataset`` of ``ins_ann_file`` over this data set's images."""
        if self.ins_ann_file is None:
            raise KeyError(
                "CocoPanopticDataset: 'bbox' / 'segm' need ins_ann_file"
            )
        if not all('ins_results' in r for r in results):
            raise KeyError(
                "CocoPanopticDataset: 'bbox' / 'segm' need the models' "
                "'ins_results' (test_cfg.instance_on=True)"
            )
        things = tuple(
            self.categories[c]['name']
            for c in self.cat_ids
            if self.categories[c]['isthing']
        )
        ins = CocoDataset(
            self.ins_ann_file, pipeline=[], classes=things, test_mode=True
        )
        ins.img_ids = [info['id'] for info in self.data_infos]
        return ins.evaluate(
            [r['ins_results'] for r in results],
            metric=metrics,
            logger=logger,
            classwise=classwise,
        )
