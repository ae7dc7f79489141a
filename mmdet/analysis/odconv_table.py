"""The results table of the ODConv configs: the 8 released ones and the
ODConv versions of the other detector families (nothing published).

The published numbers are data, not code: ``configs/odconv/metafile.yml``
(MMDetection's metafile layout; ``load_published`` reads it). For each
config: Params counted on the model built from the config (on
the CPU, every parameter, nothing cached), box and mask AP from the runs
given (the last evaluation, in percent with one decimal), and the published
numbers beside them. A published Params figure that is not the measured
count (two decimals) is flagged; a config without a run says 'not run'.

Where a run's AP comes from, for config ``NAME``:
* ``results[NAME]``: a metrics JSON written by ``tools/test.py --work-dir``
  (``{"config": ..., "metric": {"bbox_mAP": ...}}``) or a bare metrics dict;
* else ``<work dir>/NAME/``: its newest ``eval_*.json`` (tools/test.py), or
  else the last evaluation in its newest ``*.log.json`` that has one
  (training).
"""

import glob
import json
import os.path as osp
from collections import OrderedDict

import yaml

from mmdet.analysis.complexity import build_detector_for_counting, count_params
from mmdet.apis.builders import load_config
from mmdet.utils.log_analysis import load_json_log

METAFILE = 'metafile.yml'
NOT_RUN = 'not run'
NOT_PUBLISHED = 'not published'
FLAG = '†'
SEGM_TASK = 'Instance Segmentation'
COLLECTION = 'ODConv'


def _metric(model, task, key):
    for result in model.get('Results', []):
        if result.get('Task') == task:
            return (result.get('Metrics') or {}).get(key)
    return None


def load_published(metafile):
    """The published rows of ``metafile``, in its order.

    Returns:
        OrderedDict: config name -> ``dict(backbone, detector, params, box,
        mask, with_mask)``: the table's labels, the published Params string
        and the box / mask AP in percent (None where the authors published
        none, e.g. the ODConv versions of the other detector families),
        and whether the detector is evaluated on masks.
    """
    if not osp.isfile(metafile):
        raise FileNotFoundError(
            f'{metafile!r} does not exist: the published table lives in '
            f'configs/odconv/{METAFILE}; give the folder of the configs '
            '(--config-dir) that holds it'
        )
    with open(metafile, encoding='utf-8') as f:
        models = yaml.safe_load(f).get('Models', [])
    published = OrderedDict()
    for model in models:
        if model.get('In Collection', COLLECTION) != COLLECTION:
            continue  # MMDetection's stock configs: not in this table
        meta = model['Metadata']
        published[model['Name']] = dict(
            backbone=meta['Backbone'],
            detector=meta['Detector'],
            params=meta.get('Params'),
            box=_metric(model, 'Object Detection', 'box AP'),
            mask=_metric(model, SEGM_TASK, 'mask AP'),
            with_mask=any(
                result.get('Task') == SEGM_TASK
                for result in model.get('Results', [])
            ),
        )
    return published


def format_params(count):
    """Parameters in millions with two decimals, e.g. ``43.80M``."""
    return f'{count / 1e6:.2f}M'


def format_ap(value):
    """COCO AP (a fraction, as logged) in percent with one decimal."""
    return f'{100 * value:.1f}'


def _published_ap(value):
    """A published AP (already in percent) or 'not published'."""
    return NOT_PUBLISHED if value is None else f'{value:.1f}'


def _published_params(paper, measured):
    """The published Params string, flagged where it is not the
    measured count; 'not published' without one."""
    if paper is None:
        return NOT_PUBLISHED
    return paper + (f' {FLAG}' if paper != measured else '')


def _metrics_file(path):
    with open(path) as f:
        data = json.load(f)
    metrics = data.get('metric', data) if isinstance(data, dict) else None
    if not isinstance(metrics, dict) or 'bbox_mAP' not in metrics:
        raise ValueError(
            f'{path!r} has no bbox_mAP: give the eval_*.json '
            'written by tools/test.py --eval bbox [segm] '
            '--work-dir DIR'
        )
    return dict(metrics=metrics, source=path, epoch=None)


def _last_eval_in_logs(run_dir):
    """The last evaluation record of the newest ``.log.json`` with one."""
    for path in sorted(
        glob.glob(osp.join(run_dir, '*.log.json')), reverse=True
    ):
        evals = [
            r
            for r in load_json_log(path)
            if r.get('mode') == 'val' and 'bbox_mAP' in r
        ]
        if evals:
            return dict(
                metrics=evals[-1], source=path, epoch=evals[-1]['epoch']
            )
    return None


def find_run(name, work_dirs=(), results=None):
    """Metrics of config ``name``: ``dict(metrics, source, epoch)`` (epoch
    of a training evaluation, else None), or None without a run."""
    if results and name in results:
        return _metrics_file(results[name])
    for work_dir in work_dirs:
        run_dir = osp.join(work_dir, name)
        if not osp.isdir(run_dir):
            continue
        tests = sorted(glob.glob(osp.join(run_dir, 'eval_*.json')))
        if tests:
            return _metrics_file(tests[-1])
        run = _last_eval_in_logs(run_dir)
        if run is not None:
            return run
    return None


def _ap_cell(run, key, max_epochs):
    if run is None or key not in run['metrics']:
        return NOT_RUN
    cell = format_ap(run['metrics'][key])
    if run['epoch'] is not None and run['epoch'] < max_epochs:
        cell += f' (epoch {run["epoch"]})'
    return cell


def table_row(name, published, config_dir, work_dirs=(), results=None):
    """One row of the table for config ``name`` (``published``: its entry
    of ``load_published``) as a dict of cells."""
    config = osp.join(config_dir, f'{name}.py')
    model = build_detector_for_counting(config)
    params = count_params(model)
    del model
    max_epochs = load_config(config).get('runner', {}).get('max_epochs', 12)
    run = find_run(name, work_dirs, results)
    measured = format_params(params)
    return OrderedDict(
        name=name,
        backbone=published['backbone'],
        detector=published['detector'],
        params=params,
        params_cell=measured,
        paper_params_cell=_published_params(published['params'], measured),
        box=_ap_cell(run, 'bbox_mAP', max_epochs),
        paper_box=_published_ap(published['box']),
        mask=_ap_cell(run, 'segm_mAP', max_epochs)
        if published['with_mask']
        else '-',
        paper_mask=_published_ap(published['mask'])
        if published['with_mask']
        else '-',
        source=run['source'] if run else None,
        config=config,
    )


def odconv_rows(config_dir='configs/odconv', work_dirs=(), results=None):
    """The rows of ``<config_dir>/metafile.yml``, in its order."""
    published = load_published(osp.join(config_dir, METAFILE))
    unknown = set(results or {}) - set(published)
    if unknown:
        raise KeyError(
            f'--results for unknown configs {sorted(unknown)}; '
            f'the names are {list(published)}'
        )
    for work_dir in work_dirs:
        if not osp.isdir(work_dir):
            raise FileNotFoundError(
                f'work dir {work_dir!r} does not exist (expected '
                f'{work_dir}/<config name>/ per run)'
            )
    return [
        table_row(name, entry, config_dir, work_dirs, results)
        for name, entry in published.items()
    ]


def render_markdown(rows):
    """The Markdown table, a note on flagged Params and the AP sources."""
    header = (
        '| Backbone | Detector | Params | Params (paper) | box AP | '
        'box AP (paper) | mask AP | mask AP (paper) | Config |'
    )
    lines = [header, '|:---|:---|---:|---:|---:|---:|---:|---:|:---|']
    for row in rows:
        lines.append(
            f'| {row["backbone"]} | {row["detector"]} | '
            f'{row["params_cell"]} | {row["paper_params_cell"]} | '
            f'{row["box"]} | {row["paper_box"]} | {row["mask"]} | '
            f'{row["paper_mask"]} | [{row["name"]}]({row["config"]}) |'
        )
    lines.append('')
    lines.append(
        'Params: every parameter of the detector built from the '
        'config, counted by this code. AP: the last evaluation of '
        'each run (COCO val2017 for the released configs; the epoch '
        'is shown when it is not the schedule\'s last); paper: the '
        'published numbers.'
    )
    for row in rows:
        if row['paper_params_cell'].endswith(FLAG):
            lines.append(
                f'{FLAG} {row["name"]}: the paper prints '
                f'{row["paper_params_cell"][:-2]}; the built model has '
                f'{row["params"]:,} parameters ({row["params_cell"]}).'
            )
    sources = [row for row in rows if row['source']]
    if sources:
        lines.append('')
        lines.append('AP sources:')
        lines += [f'- {row["name"]}: `{row["source"]}`' for row in sources]
    return '\n'.join(lines) + '\n'
