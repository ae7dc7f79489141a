"""Panoptic quality (PQ, SQ, RQ) as the COCO panoptic API computes it
(panopticapi is not on PyPI, so it is written out here).

Segments are matched per image and category when their IoU > 0.5 (unique
by construction); pixels of gt id 0 (VOID) are left out of the union;
crowd gt segments match nothing, and a predicted segment that lies more
than half in VOID or in a crowd region of its category is no false
positive. Per category: PQ = sum IoU / (TP + FP / 2 + FN / 2),
SQ = sum IoU / TP, RQ = TP / (TP + FP / 2 + FN / 2); the data set values
are means over the categories that occur (TP + FP + FN > 0).
"""

from collections import defaultdict

import numpy as np

# panoptic results: id = label + instance * INSTANCE_OFFSET
INSTANCE_OFFSET = 1000
VOID = 0
# gt id * OFFSET + pred id packs a pair of segment ids into one integer
OFFSET = 256 * 256 * 256


def rgb2id(color):
    """(h, w, 3) RGB panoptic png -> (h, w) segment ids R + 256 G + 256^2 B."""
    color = np.asarray(color, dtype=np.int64)
    return color[..., 0] + 256 * color[..., 1] + 256 * 256 * color[..., 2]


def id2rgb(id_map):
    """(h, w) segment ids -> (h, w, 3) uint8 RGB, the inverse of rgb2id."""
    id_map = np.asarray(id_map, dtype=np.int64)
    return np.stack(
        [id_map % 256, id_map // 256 % 256, id_map // 256 // 256 % 256], -1
    ).astype(np.uint8)


class PQStatCat:
    """Sums of one category: IoU of the matches, TP, FP, FN."""

    def __init__(self):
        self.iou, self.tp, self.fp, self.fn = 0.0, 0, 0, 0

    def __iadd__(self, other):
        self.iou += other.iou
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        return self


class PQStat:
    """Per-category PQ sums over images; ``pq_average`` gives the means."""

    def __init__(self):
        self.pq_per_cat = defaultdict(PQStatCat)

    def __getitem__(self, cat_id):
        return self.pq_per_cat[cat_id]

    def __iadd__(self, other):
        for cat_id, stat in other.pq_per_cat.items():
            self.pq_per_cat[cat_id] += stat
        return self

    def pq_average(self, categories, isthing=None):
        """Mean pq / sq / rq over ``categories`` ({id: {'isthing'}}; only
        things / stuff with ``isthing`` True / False) that occur, with
        their count 'n'; and the per-category values."""
        totals, per_class = np.zeros(3), {}
        n = 0
        for cat_id, info in categories.items():
            if isthing is not None and (info['isthing'] == 1) != isthing:
                continue
            stat = self.pq_per_cat[cat_id]
            denom = stat.tp + 0.5 * stat.fp + 0.5 * stat.fn
            if denom == 0:
                per_class[cat_id] = dict(pq=0.0, sq=0.0, rq=0.0)
                continue
            n += 1
            values = (
                stat.iou / denom,
                stat.iou / stat.tp if stat.tp else 0.0,
                stat.tp / denom,
            )
            per_class[cat_id] = dict(zip(('pq', 'sq', 'rq'), values))
            totals += values
        means = totals / max(n, 1)
        return dict(pq=means[0], sq=means[1], rq=means[2], n=n), per_class


def _pred_areas(pan_pred, pred_segms):
    """Set each predicted segment's 'area' from the png; every id in the
    png (but VOID) must be in the json and every json segment in the png."""
    ids, counts = np.unique(pan_pred, return_counts=True)
    seen = set()
    for seg_id, count in zip(ids.tolist(), counts.tolist()):
        if seg_id == VOID:
            continue
        if seg_id not in pred_segms:
            raise KeyError(f'segment {seg_id} is in the png, not in the json')
        pred_segms[seg_id]['area'] = count
        seen.add(seg_id)
    missing = set(pred_segms) - seen
    if missing:
        raise KeyError(f'segments {sorted(missing)} are in the json only')


def pq_compute_single_image(gt_ann, pred_ann, pan_gt, pan_pred):
    """PQ sums of one image.

    Args:
        gt_ann, pred_ann (dict): 'segments_info' lists of dicts with 'id',
            'category_id', 'area' (gt), 'iscrowd' (gt).
        pan_gt, pan_pred (ndarray): (h, w) segment id maps (``rgb2id``).

    Returns:
        PQStat
    """
    stat = PQStat()
    gt_segms = {s['id']: dict(s) for s in gt_ann['segments_info']}
    pred_segms = {s['id']: dict(s) for s in pred_ann['segments_info']}
    _pred_areas(pan_pred, pred_segms)
    pairs = pan_gt.astype(np.uint64) * OFFSET + pan_pred.astype(np.uint64)
    keys, counts = np.unique(pairs, return_counts=True)
    inter = {
        (int(k // OFFSET), int(k % OFFSET)): int(c)
        for k, c in zip(keys, counts)
    }
    gt_matched, pred_matched = set(), set()
    for (gt_id, pred_id), overlap in inter.items():
        gt, pred = gt_segms.get(gt_id), pred_segms.get(pred_id)
        if gt is None or pred is None or gt.get('iscrowd', 0) == 1:
            continue
        if gt['category_id'] != pred['category_id']:
            continue
        union = (
            pred['area'] + gt['area'] - overlap - inter.get((VOID, pred_id), 0)
        )
        iou = overlap / union
        if iou > 0.5:
            stat[gt['category_id']].tp += 1
            stat[gt['category_id']].iou += iou
            gt_matched.add(gt_id)
            pred_matched.add(pred_id)
    crowd_of_cat = {}
    for gt_id, gt in gt_segms.items():
        if gt_id in gt_matched:
            continue
        if gt.get('iscrowd', 0) == 1:
            crowd_of_cat[gt['category_id']] = gt_id
            continue
        stat[gt['category_id']].fn += 1
    for pred_id, pred in pred_segms.items():
        if pred_id in pred_matched:
            continue
        ignored = inter.get((VOID, pred_id), 0)
        if pred['category_id'] in crowd_of_cat:
            ignored += inter.get(
                (crowd_of_cat[pred['category_id']], pred_id), 0
            )
        if ignored / pred['area'] > 0.5:
            continue
        stat[pred['category_id']].fp += 1
    return stat


def pq_results(stat, categories):
    """MMDetection's PQ keys (in percent): PQ, SQ, RQ over all categories,
    _th over things, _st over stuff."""
    out = {}
    for suffix, isthing in (('', None), ('_th', True), ('_st', False)):
        means, _ = stat.pq_average(categories, isthing=isthing)
        for key in ('pq', 'sq', 'rq'):
            out[f'{key.upper()}{suffix}'] = 100 * means[key]
    return out
