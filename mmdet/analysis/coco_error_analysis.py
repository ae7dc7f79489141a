"""Breakdown of COCO detection errors into stacked precision-recall curves,
as in the COCO detection analysis tool: for every category and for all
categories together, the PR curves (101 recall thresholds) of

* ``C75``: AP at IoU 0.75,
* ``C50``: AP at IoU 0.50,
* ``Loc``: AP at IoU 0.10 (localisation errors forgiven),
* ``Sim``: IoU 0.10 with confusions within the supercategory forgiven,
* ``Oth``: IoU 0.10 with confusions with any other category forgiven,
* ``BG``: all false positives forgiven (precision 1 up to the recall
  reached in ``Oth``),
* ``FN``: all errors forgiven (precision 1 everywhere).

Each type's precision is at least the previous one's, so the curves stack:
the band between two curves is the AP lost to that kind of error. The
command-line front end is ``tools/analysis_tools/coco_error_analysis.py``.

Precision arrays here are indexed ``[type, recall, category, area]``:
7 types (``ERROR_TYPES``), 101 recall thresholds, the categories in
ascending id order and the 4 area ranges of ``AREA_NAMES``.
"""

import contextlib
import io
import json
import os
import os.path as osp

import numpy as np
from matplotlib.figure import Figure
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

RESULT_TYPES = ('bbox', 'segm')
ERROR_TYPES = ('C75', 'C50', 'Loc', 'Sim', 'Oth', 'BG', 'FN')
AREA_NAMES = ('allarea', 'small', 'medium', 'large')
# upper bounds (pixels^2) of small, medium and large objects
DEFAULT_AREAS = (32**2, 96**2, 10**10)
# IoU thresholds of the C75, C50 and Loc curves
IOU_THRS = (0.75, 0.5, 0.1)
MAX_DETS = 100
# fill colours of the stacked bands, in ERROR_TYPES order
COLORS = (
    '#f7f7f7',
    '#d9d9d9',
    '#4f81bd',
    '#c0504d',
    '#5dbb63',
    '#8064a2',
    '#f79646',
)


@contextlib.contextmanager
def _quiet():
    """Silence pycocotools' progress prints."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def area_ranges(areas=DEFAULT_AREAS):
    """The 4 area ranges ``[[lo, hi], ...]`` (pixels^2) of ``AREA_NAMES``
    from the 3 ascending upper bounds ``areas`` of small, medium and large
    objects."""
    areas = [float(a) for a in areas]
    if len(areas) != 3:
        raise ValueError(
            f'--areas takes 3 numbers (upper bounds of small, medium and '
            f'large objects, pixels^2), got {len(areas)}: {areas}'
        )
    if not 0 < areas[0] < areas[1] < areas[2]:
        raise ValueError(f'--areas must be positive and ascending: {areas}')
    small, medium, large = areas
    return [[0, large], [0, small], [small, medium], [medium, large]]


def check_types(types):
    """``types`` (e.g. ``['bbox', 'segm']``) as a list, or a ValueError
    naming the allowed ones."""
    types = [types] if isinstance(types, str) else list(types)
    unknown = [t for t in types if t not in RESULT_TYPES]
    if unknown or not types:
        raise ValueError(
            f'unknown result type(s) {unknown}: choose from '
            f'{", ".join(RESULT_TYPES)}'
        )
    return types


def coco_from_dict(dataset):
    """A pycocotools COCO indexing the annotation dict ``dataset``."""
    coco = COCO()
    coco.dataset = dataset
    with _quiet():
        coco.createIndex()
    return coco


def load_coco(ann_file, result_file):
    """The ground truth (COCO) and detections (COCO of the results) of
    ``ann_file`` and a COCO result-format ``result_file``."""
    for kind, path in (('annotation', ann_file), ('result', result_file)):
        if not osp.isfile(path):
            raise FileNotFoundError(f'{kind} file {path!r} does not exist')
    with open(result_file) as f:
        results = json.load(f)
    if not isinstance(results, list) or not results:
        raise ValueError(
            f'result file {result_file!r} holds no detections: give a '
            'non-empty list in COCO result format'
        )
    with open(ann_file) as f:
        coco_gt = coco_from_dict(json.load(f))
    unknown = {r['image_id'] for r in results} - set(coco_gt.getImgIds())
    if unknown:
        raise ValueError(
            f'result file {result_file!r} has detections on images not in '
            f'{ann_file!r}: ids {sorted(unknown)[:5]}'
        )
    with _quiet():
        coco_dt = coco_gt.loadRes(results)
    return coco_gt, coco_dt


def run_cocoeval(coco_gt, coco_dt, iou_type, iou_thrs, area_rng, cat_ids):
    """Evaluate and accumulate; returns the COCOeval, whose
    ``eval['precision']`` is ``[iou, recall(101), category, area, 1]``
    (-1 where a category has no ground truth in an area range)."""
    coco_eval = COCOeval(coco_gt, coco_dt, iou_type)
    coco_eval.params.catIds = list(cat_ids)
    coco_eval.params.iouThrs = np.array(iou_thrs, dtype=np.float64)
    coco_eval.params.maxDets = [MAX_DETS]
    coco_eval.params.areaRng = area_rng
    with _quiet():
        coco_eval.evaluate()
        coco_eval.accumulate()
    return coco_eval


def forgiving_gt(coco_gt, cat_id, forgiven_ids):
    """A copy of the ground truth where every box of a category in
    ``forgiven_ids`` becomes an ignored crowd region of ``cat_id``:
    detections of ``cat_id`` on them count neither as true nor false
    positives. Boxes of other categories are left out."""
    anns = []
    for ann in coco_gt.dataset['annotations']:
        if ann['category_id'] == cat_id:
            anns.append(dict(ann))
        elif ann['category_id'] in forgiven_ids:
            anns.append(dict(ann, category_id=cat_id, iscrowd=1, ignore=1))
    dataset = dict(coco_gt.dataset, annotations=anns)
    return coco_from_dict(dataset)


def detections_of(coco_dt, cat_id):
    """The detections of category ``cat_id`` only, as a fresh COCO."""
    anns = [
        dict(a)
        for a in coco_dt.dataset['annotations']
        if a['category_id'] == cat_id
    ]
    return coco_from_dict(dict(coco_dt.dataset, annotations=anns))


def confusion_precisions(coco_gt, coco_dt, cat_id, iou_type, area_rng):
    """Precision of category ``cat_id`` at IoU 0.1 with class confusions
    forgiven: within its supercategory (``Sim``) and with any category
    (``Oth``). Returns two ``[recall(101), area]`` arrays."""
    cats = coco_gt.dataset['categories']
    family = coco_gt.cats[cat_id].get('supercategory')
    others = {c['id'] for c in cats} - {cat_id}
    siblings = {c['id'] for c in cats if c.get('supercategory') == family}
    dets = detections_of(coco_dt, cat_id)
    precisions = []
    for forgiven in (siblings & others, others):
        gt = forgiving_gt(coco_gt, cat_id, forgiven)
        coco_eval = run_cocoeval(
            gt, dets, iou_type, IOU_THRS[-1:], area_rng, [cat_id]
        )
        precisions.append(coco_eval.eval['precision'][0, :, 0, :, 0])
    return precisions


def error_precisions(coco_gt, coco_dt, iou_type, areas=DEFAULT_AREAS):
    """The stacked error breakdown.

    Returns:
        tuple: ``(ps, rec_thrs, coco_eval)``: ``ps`` float array
        ``[7 types, 101 recalls, K categories, 4 areas]`` (no ground truth
        counts as precision 0), the 101 recall thresholds and the
        COCOeval of C75/C50/Loc (categories ``coco_eval.params.catIds``).
    """
    area_rng = area_ranges(areas)
    cat_ids = sorted(coco_gt.getCatIds())
    coco_eval = run_cocoeval(
        coco_gt, coco_dt, iou_type, IOU_THRS, area_rng, cat_ids
    )
    base = coco_eval.eval['precision'][..., 0]
    ps = np.zeros((len(ERROR_TYPES),) + base.shape[1:])
    ps[:3] = base
    for k, cat_id in enumerate(cat_ids):
        ps[3, :, k], ps[4, :, k] = confusion_precisions(
            coco_gt, coco_dt, cat_id, iou_type, area_rng
        )
    ps[ps == -1] = 0
    ps[5] = ps[4] > 0
    ps[6] = 1.0
    return ps, coco_eval.params.recThrs, coco_eval


def type_aps(ps):
    """AP per type and area, ``{type: {area: AP}}``, of ``ps``
    ``[type, recall, category, area]``: the mean over recalls and
    categories."""
    return {
        name: {
            area: float(ps[t, :, :, a].mean())
            for a, area in enumerate(AREA_NAMES)
        }
        for t, name in enumerate(ERROR_TYPES)
    }


def _safe_name(name):
    """A category name usable in a file name."""
    return name.replace('/', '_').replace(os.sep, '_')


def plot_pr_curves(rec_thrs, ps, out_dir, class_name, iou_type):
    """One stacked PR plot per area, ``{iou_type}-{class_name}-{area}.png``
    in ``out_dir``; ``ps`` is ``[type, recall, category, area]`` and the
    curves are averaged over its categories. Returns the paths."""
    aps = type_aps(ps)
    paths = []
    for a, area in enumerate(AREA_NAMES):
        curves = ps[:, :, :, a].mean(axis=2)
        lower = np.zeros_like(rec_thrs)
        title = f'{iou_type}-{class_name}-{area}'
        fig = Figure()
        ax = fig.subplots()
        for t, name in enumerate(ERROR_TYPES):
            ax.plot(rec_thrs, curves[t], color='black', linewidth=0.5)
            ax.fill_between(
                rec_thrs,
                lower,
                curves[t],
                color=COLORS[t],
                label=f'[{aps[name][area]:.3f}]{name}',
            )
            lower = curves[t]
        ax.set(xlabel='recall', ylabel='precision', title=title)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.legend()
        paths.append(_save(fig, out_dir, title))
    return paths


def plot_ap_bars(ps, out_dir, class_name, iou_type):
    """Bars of AP (all types but FN) per area,
    ``{iou_type}-{class_name}-ap bar plot.png``. Returns the path."""
    aps = type_aps(ps)
    names = ERROR_TYPES[:-1]
    x = np.arange(len(AREA_NAMES))
    width = 0.6 / len(ERROR_TYPES)
    title = f'{iou_type}-{class_name}-ap bar plot'
    fig = Figure()
    ax = fig.subplots()
    for i, name in enumerate(names):
        heights = [aps[name][area] for area in AREA_NAMES]
        offset = (i + 1 - len(ERROR_TYPES) / 2) * width
        bars = ax.bar(x + offset, heights, width, label=name)
        labels = [f'{100 * h:.0f}' for h in heights]
        ax.bar_label(bars, labels=labels, padding=3, fontsize='x-small')
    ax.set(ylabel='Mean Average Precision (mAP)', title=title)
    ax.set_xticks(x)
    ax.set_xticklabels(AREA_NAMES)
    ax.legend()
    return _save(fig, out_dir, title)


def gt_counts_per_area(coco_eval):
    """Number of ground truth boxes (not crowd, inside the range) per
    area range, ``{area: count}``, from an evaluated COCOeval."""
    n_areas = len(coco_eval.params.areaRng)
    n_imgs = len(coco_eval.params.imgIds)
    counts = [0] * n_areas
    for i, evaluated in enumerate(coco_eval.evalImgs):
        if evaluated:
            a = (i // n_imgs) % n_areas
            counts[a] += int(np.sum(~np.asarray(evaluated['gtIgnore'], bool)))
    return dict(zip(AREA_NAMES, counts))


def plot_gt_area_counts(coco_eval, out_dir):
    """Bars of ground truth counts per area range,
    ``number of annotations per area group.png``. Returns the path."""
    counts = gt_counts_per_area(coco_eval)
    print('ground truth boxes per area range:', counts)
    title = 'number of annotations per area group'
    fig = Figure(tight_layout=True)
    ax = fig.subplots()
    bars = ax.bar(np.arange(len(counts)), list(counts.values()), 0.6)
    ax.bar_label(bars, padding=3, fontsize='x-small')
    ax.set(ylabel='Number of annotations', title=title)
    ax.set_xticks(np.arange(len(counts)))
    ax.set_xticklabels(list(counts))
    return _save(fig, out_dir, title)


def plot_gt_area_histogram(coco_gt, out_dir):
    """Histogram (100 bins) of sqrt(area) of all ground truth boxes,
    ``gt annotation areas histogram plot.png``. Returns the path."""
    areas = [ann['area'] for ann in coco_gt.dataset['annotations']]
    title = 'gt annotation areas histogram plot'
    fig = Figure(tight_layout=True)
    ax = fig.subplots()
    ax.hist(np.sqrt(areas), bins=100)
    ax.set(
        xlabel='Squareroot Area', ylabel='Number of annotations', title=title
    )
    return _save(fig, out_dir, title)


def _save(fig, out_dir, title):
    """Write ``fig`` as ``{out_dir}/{title}.png``; returns the path."""
    path = osp.join(out_dir, f'{title}.png')
    fig.savefig(path)
    return path


def analyze_results(
    result_file,
    ann_file,
    out_dir,
    types=('bbox',),
    extraplots=False,
    areas=DEFAULT_AREAS,
):
    """Write the error-breakdown plots of ``result_file`` (COCO result
    format JSON) against ``ann_file`` under ``{out_dir}/{type}/``: per
    category and ``allclass``, one PR plot per area range; with
    ``extraplots`` also AP bar plots and, for all classes, ground truth
    counts per area range and a histogram of sqrt(area).

    Returns:
        dict: ``{type: {class name or 'allclass': {error type: {area:
        AP}}}}``.
    """
    types = check_types(types)
    area_ranges(areas)
    coco_gt, coco_dt = load_coco(ann_file, result_file)
    if 'segm' in types:
        missing = [
            a['id']
            for a in coco_gt.dataset['annotations']
            if 'segmentation' not in a
        ]
        if missing:
            raise ValueError(
                f'--types segm: {ann_file!r} has annotations without '
                f'segmentation (ids {missing[:5]})'
            )
    summary = {}
    for iou_type in types:
        type_dir = osp.join(out_dir, iou_type)
        os.makedirs(type_dir, exist_ok=True)
        ps, rec_thrs, coco_eval = error_precisions(
            coco_gt, coco_dt, iou_type, areas
        )
        summary[iou_type] = {}
        for k, cat_id in enumerate(coco_eval.params.catIds):
            name = _safe_name(coco_gt.cats[int(cat_id)]['name'])
            cat_ps = ps[:, :, k : k + 1]
            summary[iou_type][name] = type_aps(cat_ps)
            plot_pr_curves(rec_thrs, cat_ps, type_dir, name, iou_type)
            if extraplots:
                plot_ap_bars(cat_ps, type_dir, name, iou_type)
        summary[iou_type]['allclass'] = type_aps(ps)
        plot_pr_curves(rec_thrs, ps, type_dir, 'allclass', iou_type)
        if extraplots:
            plot_ap_bars(ps, type_dir, 'allclass', iou_type)
            plot_gt_area_counts(coco_eval, type_dir)
            plot_gt_area_histogram(coco_gt, type_dir)
        print(format_summary(iou_type, summary[iou_type]['allclass']))
        print(f'plots written to {type_dir}')
    return summary


def format_summary(iou_type, aps):
    """A text table of ``aps`` (``{error type: {area: AP}}``)."""
    header = ''.join(f'{name:>8}' for name in ERROR_TYPES)
    lines = [f'{iou_type} AP, all classes', 'area'.ljust(12) + header]
    for area in AREA_NAMES:
        row = ''.join(f'{aps[name][area]:8.3f}' for name in ERROR_TYPES)
        lines.append(area.ljust(12) + row)
    return '\n'.join(lines)
