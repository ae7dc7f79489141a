"""Train and evaluate every quick-start config (configs/quickstart/
*_tiny_coco.py, one detector family each) on the generated tiny set, then
write the Markdown table of epochs, training time, bbox and segm mAP:

    python tools/misc/make_tiny_coco.py --out data/tiny_coco
    python tools/analysis_tools/train_quickstart_families.py \
        --work-dir work_dirs/families --out work_dirs/families/table.md

``--epochs N`` shortens every schedule (a smoke run); ``--table-only``
rewrites the table from the runs already in the work dir; ``--only``
picks configs by name.

For config ``configs/quickstart/NAME.py`` a run leaves in
``<work root>/NAME/`` what ``tools/train.py`` and ``tools/test.py
--work-dir`` leave (logs, checkpoints, ``eval_<time>.json``) and
``family_run.json``: ``{"config", "epochs", "train_seconds"}``. The table
is read back from those files only, so it can be rewritten at any time
(``--table-only``) and includes runs made by hand the same way.
"""

import argparse
import glob
import json
import multiprocessing
import os.path as osp
import time

from mmdet.apis.builders import load_config
from mmdet.apis.entrypoints import test_from_config, train_from_config

RUN_FILE = 'family_run.json'
PATTERN = '*_tiny_coco.py'
NOT_RUN = 'not run'


def find_configs(config_dir='configs/quickstart', pattern=PATTERN):
    """The quick-start configs, sorted by name."""
    configs = sorted(glob.glob(osp.join(config_dir, pattern)))
    if not configs:
        raise FileNotFoundError(
            f'no {pattern} in {config_dir!r}: run from the repository root '
            'or give --config-dir'
        )
    return configs


def config_name(config):
    return osp.splitext(osp.basename(config))[0]


def eval_metrics(cfg):
    """The COCO metrics of the model's results: ``'bbox'`` for a model with
    a box head, ``'segm'`` for one with masks, either a ``roi_head``'s
    ``mask_head`` (Mask R-CNN, cascades, QueryInst) or a model-level one
    (YOLACT, and the box-free SOLO / SOLOv2: segm only, since their
    boxes are all zero)."""
    model = cfg.model
    roi_head = model.get('roi_head') or {}
    box_free = not (model.get('bbox_head') or roi_head)
    masks = bool(roi_head.get('mask_head') or model.get('mask_head'))
    return (['bbox'] if not box_free else []) + (['segm'] if masks else [])


def data_options(data_root):
    """``--cfg-options`` that read a generated set at ``data_root``
    (train split for training, val split for val and test)."""
    options = {}
    for split, key in (('train', 'train'), ('val', 'val'), ('val', 'test')):
        options[f'data.{key}.ann_file'] = osp.join(
            data_root, 'annotations', f'instances_{split}.json'
        )
        options[f'data.{key}.img_prefix'] = osp.join(data_root, split) + '/'
    return options


def train_and_evaluate(config, work_root, epochs=None, data_root=None, seed=0):
    """Train ``config`` from scratch, test its last checkpoint, and write
    ``family_run.json``.

    Args:
        config (str): a quick-start config.
        work_root (str): the run goes to ``<work_root>/<config name>/``.
        epochs (int, optional): overrides the config's ``max_epochs``
            (evaluation during training is then skipped; the final test
            still runs).
        data_root (str, optional): a generated set other than the
            config's ``data/tiny_coco/``.
        seed (int): training seed.

    Returns:
        dict: the row of :func:`read_run`.
    """
    work_dir = osp.join(work_root, config_name(config))
    options = data_options(data_root) if data_root else {}
    if epochs is not None:
        options['runner.max_epochs'] = epochs
    cfg = load_config(config, options or None)
    start = time.time()
    train_from_config(
        config,
        work_dir=work_dir,
        seed=seed,
        cfg_options=options or None,
        no_validate=epochs is not None,
    )
    seconds = time.time() - start
    test_from_config(
        config,
        osp.join(work_dir, 'latest.pth'),
        eval=eval_metrics(cfg),
        cfg_options=options or None,
        work_dir=work_dir,
    )
    with open(osp.join(work_dir, RUN_FILE), 'w') as f:
        json.dump(
            dict(
                config=config,
                epochs=cfg.runner.max_epochs,
                train_seconds=round(seconds, 1),
            ),
            f,
        )
    return read_run(work_dir)


def run_isolated(config, work_root, epochs=None, data_root=None, seed=0):
    """:func:`train_and_evaluate` in a fresh (spawned) process, so that
    each run gets its own log file, threads and random state."""
    proc = multiprocessing.get_context('spawn').Process(
        target=train_and_evaluate,
        args=(config, work_root, epochs, data_root, seed),
    )
    proc.start()
    proc.join()
    if proc.exitcode != 0:
        raise RuntimeError(
            f'training or testing {config} failed (exit code '
            f'{proc.exitcode}); its log is in '
            f'{osp.join(work_root, config_name(config))}/'
        )
    return read_run(osp.join(work_root, config_name(config)))


def read_run(work_dir):
    """The results of one run folder, or None if it has no
    ``family_run.json``.

    Returns:
        dict: ``name``, ``epochs``, ``train_seconds``, ``bbox_mAP`` and
        ``segm_mAP`` (None when not evaluated) from the newest
        ``eval_*.json``.
    """
    run_file = osp.join(work_dir, RUN_FILE)
    if not osp.isfile(run_file):
        return None
    with open(run_file) as f:
        run = json.load(f)
    metrics = {}
    evals = sorted(glob.glob(osp.join(work_dir, 'eval_*.json')))
    if evals:
        with open(evals[-1]) as f:
            metrics = json.load(f).get('metric', {})
    return dict(
        name=config_name(run['config']),
        epochs=run['epochs'],
        train_seconds=run['train_seconds'],
        bbox_mAP=metrics.get('bbox_mAP'),
        segm_mAP=metrics.get('segm_mAP'),
    )


def collect_rows(configs, work_root):
    """One row per config, in order; ``None`` cells for configs not run."""
    rows = []
    for config in configs:
        row = read_run(osp.join(work_root, config_name(config)))
        rows.append(
            row
            or dict(
                name=config_name(config),
                epochs=None,
                train_seconds=None,
                bbox_mAP=None,
                segm_mAP=None,
            )
        )
    return rows


def format_seconds(seconds):
    """``12 min 05 s`` style (``-`` when unknown)."""
    if seconds is None:
        return '-'
    minutes, secs = divmod(int(round(seconds)), 60)
    return f'{minutes} min {secs:02d} s' if minutes else f'{secs} s'


def _map_cell(value, run_exists):
    if value is None:
        return '-' if run_exists else NOT_RUN
    return f'{value:.3f}'


def render_table(rows):
    """The Markdown table: config, epochs, training time (all epochs and
    per epoch, evaluations during training included), bbox and segm mAP
    (COCO, val split of the tiny set); '-' for a model without masks,
    'not run' for a config without a run."""
    lines = [
        '| config | epochs | training time | per epoch | bbox mAP | '
        'segm mAP |',
        '|:---|---:|---:|---:|---:|---:|',
    ]
    for row in rows:
        ran = row['epochs'] is not None
        seconds = row['train_seconds']
        per_epoch = seconds / row['epochs'] if ran and seconds else None
        lines.append(
            f'| {row["name"]} | {row["epochs"] if ran else NOT_RUN} | '
            f'{format_seconds(seconds)} | {format_seconds(per_epoch)} | '
            f'{_map_cell(row["bbox_mAP"], ran)} | '
            f'{_map_cell(row["segm_mAP"], ran)} |'
        )
    return '\n'.join(lines) + '\n'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Train and evaluate every quick-start config and '
        'write a table of their results'
    )
    parser.add_argument(
        '--config-dir',
        default='configs/quickstart',
        help='where the *_tiny_coco.py configs are',
    )
    parser.add_argument(
        '--work-dir',
        default='work_dirs/quickstart_families',
        help='one <config name>/ folder per run goes here',
    )
    parser.add_argument(
        '--only',
        nargs='+',
        metavar='NAME',
        help='train only these configs (names without .py)',
    )
    parser.add_argument(
        '--epochs', type=int, help="override every config's max_epochs"
    )
    parser.add_argument(
        '--data-root', help='a generated set other than data/tiny_coco/'
    )
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--table-only',
        action='store_true',
        help='train nothing; write the table of the runs in --work-dir',
    )
    parser.add_argument('--out', help='also write the table to this .md')
    args = parser.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        parser.error('--epochs must be at least 1')
    if args.data_root and not osp.isdir(args.data_root):
        parser.error(
            f'--data-root {args.data_root!r} does not exist: '
            'generate it with tools/misc/make_tiny_coco.py --out'
        )
    return args


def main(argv=None):
    args = parse_args(argv)
    configs = find_configs(args.config_dir)
    names = [config_name(c) for c in configs]
    unknown = sorted(set(args.only or []) - set(names))
    if unknown:
        raise SystemExit(
            f'--only: no config named {unknown} in '
            f'{args.config_dir} (there are {names})'
        )
    if not args.table_only:
        for config in configs:
            if args.only and config_name(config) not in args.only:
                continue
            print(f'training and testing {config}', flush=True)
            run_isolated(
                config, args.work_dir, args.epochs, args.data_root, args.seed
            )
    text = render_table(collect_rows(configs, args.work_dir))
    print(text, end='')
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as f:
            f.write(text)


if __name__ == '__main__':
    main()
