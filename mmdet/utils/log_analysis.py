"""Reading MMDetection's ``.log.json`` training logs: curves and timing.

A ``.log.json`` holds one JSON object per line: a header (environment,
config) without ``epoch``, then one record per logged training interval
(``mode: "train"``, ``epoch``, ``iter``, ``lr``, ``time``, the losses, ...)
and one per evaluation (``mode: "val"``, ``epoch``, ``bbox_mAP``, ...).
"""

import json
import os.path as osp
from collections import defaultdict

import numpy as np

# style names MMDetection users pass (seaborn's), mapped onto matplotlib's
SEABORN_PREFIX = 'seaborn-v0_8-'


def load_json_log(path):
    """The records of one ``.log.json`` with an ``epoch`` field, in order.

    Raises:
        FileNotFoundError / ValueError: naming the path (and line).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'log {path!r} does not exist: training writes '
            'work_dirs/<config>/<timestamp>.log.json'
        )
    records = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(
                    f'{path}, line {number}: not JSON ({err}); '
                    'give the .log.json file, not the .log '
                    'text log'
                ) from None
            if isinstance(record, dict) and 'epoch' in record:
                records.append(record)
    return records


def iters_per_epoch(records):
    """Training iterations of an epoch: the last logged iteration of the
    first epoch (exact when the log interval divides the epoch)."""
    train = [r for r in records if r.get('mode') == 'train']
    if not train:
        return 1
    epochs = sorted({r['epoch'] for r in train})
    first = epochs[0]
    return max(r['iter'] for r in train if r['epoch'] == first)


def curve(records, key, start_epoch=1):
    """Points of ``key`` in one log.

    Returns:
        tuple: ``(xs, ys, axis)``: x values, y values and 'iter' (training
        records: x is the global iteration ``(epoch - 1) * iters_per_epoch
        + iter``) or 'epoch' (evaluation records: x is the epoch).
    """
    chosen = [r for r in records if key in r and r['epoch'] >= start_epoch]
    train = [r for r in chosen if r.get('mode') == 'train']
    if train:
        per_epoch = iters_per_epoch(records)
        xs = [(r['epoch'] - 1) * per_epoch + r['iter'] for r in train]
        return np.array(xs), np.array([r[key] for r in train]), 'iter'
    return (
        np.array([r['epoch'] for r in chosen]),
        np.array([r[key] for r in chosen]),
        'epoch',
    )


def _missing_key_message(path, key):
    if 'mAP' in key:
        return (
            f'{path} has no {key!r}: was the model evaluated during '
            'training (no --no-validate; evaluation.metric includes it; '
            'an evaluation within the epochs logged)?'
        )
    return (
        f'{path} has no {key!r}: check the key name, or log more often '
        '(log_config.interval below the iterations of an epoch)'
    )


def _use_style(plt, style):
    if style is None:
        return
    available = plt.style.available
    for name in (style, SEABORN_PREFIX + style):
        if name in available:
            plt.style.use(name)
            return
    raise ValueError(
        f'unknown plot style {style!r}; use one of '
        f"{sorted(available)} (or seaborn's dark, darkgrid, "
        'white, whitegrid, ticks)'
    )


def plot_curve(
    paths,
    keys,
    legend=None,
    title=None,
    backend=None,
    style='dark',
    out=None,
    start_epoch=1,
):
    """Plot ``keys`` of each log on one figure; save it to ``out`` (PNG,
    PDF, ... by extension) or show it.

    Losses and other training values are drawn against the global
    iteration, evaluation metrics (e.g. ``bbox_mAP``) against the epoch;
    with both, the metrics are placed at the last iteration of their epoch.

    Args:
        paths (list[str]): ``.log.json`` files.
        keys (list[str]): what to plot, e.g. ``['loss_cls', 'loss_bbox']``.
        legend (list[str], optional): one label per (log, key), logs outer;
            default ``<log file name>_<key>``.
        title (str, optional): the figure title.
        backend (str, optional): matplotlib backend (default: Agg when
            saving).
        style (str): matplotlib or seaborn style name.
        out (str, optional): the output file.
        start_epoch (int): plot from this epoch on.

    Returns:
        matplotlib.figure.Figure: the figure.
    """
    import matplotlib

    if backend is not None:
        matplotlib.use(backend)
    elif out is not None:
        matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    if legend is None:
        legend = [f'{osp.basename(p)}_{k}' for p in paths for k in keys]
    if len(legend) != len(paths) * len(keys):
        raise ValueError(
            f'{len(legend)} legend entries for {len(paths)} '
            f'logs x {len(keys)} keys: give one per pair, logs '
            'outer'
        )
    curves = []
    for path in paths:
        records = load_json_log(path)
        for key in keys:
            xs, ys, axis = curve(records, key, start_epoch)
            if not len(xs):
                raise KeyError(_missing_key_message(path, key))
            curves.append((xs, ys, axis, iters_per_epoch(records)))
    by_iter = any(axis == 'iter' for _, _, axis, _ in curves)

    with plt.style.context('default'):
        _use_style(plt, style)
        fig, ax = plt.subplots(figsize=(8, 5))
        for (xs, ys, axis, per_epoch), label in zip(curves, legend):
            if axis == 'epoch':
                xs = xs * per_epoch if by_iter else xs
                ax.plot(xs, ys, label=label, marker='o')
            else:
                ax.plot(xs, ys, label=label, linewidth=0.8)
        ax.set_xlabel('iter' if by_iter else 'epoch')
        ax.legend()
        if title is not None:
            ax.set_title(title)
        fig.tight_layout()
        if out is None:
            plt.show()
        else:
            fig.savefig(out)
            plt.close(fig)
    return fig


def train_time_stats(path, include_outliers=False):
    """Seconds per training iteration of a log, per epoch and overall.

    The first logged interval of each epoch (data loader start-up) is left
    out unless ``include_outliers``.

    Returns:
        dict: ``epoch_means`` ({epoch: mean s/iter}), ``slowest_epoch``,
        ``fastest_epoch``, ``std_over_epochs`` and ``mean`` (s/iter over
        every included interval).
    """
    times = defaultdict(list)
    for record in load_json_log(path):
        if record.get('mode') == 'train' and 'time' in record:
            times[record['epoch']].append(record['time'])
    if not include_outliers:
        times = {e: t[1:] for e, t in times.items() if len(t) > 1}
    if not times:
        raise ValueError(
            f'{path} has too few timed training records; log more often '
            '(log_config.interval below the iterations of an epoch) or use '
            '--include-outliers'
        )
    means = {epoch: float(np.mean(t)) for epoch, t in sorted(times.items())}
    values = np.array(list(means.values()))
    epochs = list(means)
    return dict(
        epoch_means=means,
        slowest_epoch=epochs[int(values.argmax())],
        fastest_epoch=epochs[int(values.argmin())],
        std_over_epochs=float(values.std()),
        mean=float(np.mean(np.concatenate(list(times.values())))),
    )
