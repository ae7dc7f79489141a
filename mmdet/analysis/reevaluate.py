"""Evaluating, or formatting, a results file written by ``tools/test.py
--out`` again, without running the model."""

import os.path as osp

from mmdet.apis.builders import build_test_dataset, eval_kwargs, load_config
from mmdet.utils import compat_cfg
from mmdet.utils.arg_errors import InvalidArgumentError
from mmdet.utils.safe_pickle import safe_load


def load_results(path, dataset):
    """The per-image results in ``path`` (a ``.pkl`` from tools/test.py
    --out), checked against ``dataset``'s size."""
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'results file {path!r} does not exist; write one with '
            'tools/test.py CONFIG CHECKPOINT --out results.pkl'
        )
    if not path.endswith(('.pkl', '.pickle')):
        raise ValueError(
            f'{path!r}: give the .pkl written by tools/test.py --out'
        )
    results = safe_load(path)
    if not isinstance(results, list) or len(results) != len(dataset):
        count = len(results) if isinstance(results, list) else 'no list of'
        raise ValueError(
            f'{path!r} holds {count} results for the {len(dataset)} images '
            'of data.test: was it written with this config (and the same '
            'data.test)?'
        )
    return results


def reevaluate(
    config,
    results_file,
    metrics=None,
    format_only=False,
    cfg_options=None,
    eval_options=None,
):
    """Evaluate (``metrics``, e.g. ``['bbox', 'segm']``) or format the
    results in ``results_file`` on the config's test set.

    Returns:
        dict | None: the metrics (None with ``format_only`` only).
    """
    if not (metrics or format_only):
        raise InvalidArgumentError(
            'Say what to do: --eval METRICS or --format-only'
        )
    if metrics and format_only:  # as MMDetection's eval_metric.py
        raise ValueError('--eval and --format-only cannot be both given')
    cfg = compat_cfg(load_config(config, cfg_options))
    dataset = build_test_dataset(cfg)
    results = load_results(results_file, dataset)
    if format_only:
        dataset.format_results(results, **(eval_options or {}))
    if not metrics:
        return None
    return dataset.evaluate(results, **eval_kwargs(cfg, metrics, eval_options))
