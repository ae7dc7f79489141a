"""Small helpers shared by the tools and apis."""

import glob
import os
import os.path as osp
import re
import warnings

import mmcv
from mmcv.utils import print_log

from .arg_errors import InvalidArgumentTypeError


def find_latest_checkpoint(path, suffix='pth'):
    """Path of the newest checkpoint in the folder ``path``, or None (with
    a warning when the folder does not exist, as MMDetection warns).

    ``latest.<suffix>`` wins when it exists; otherwise the ``epoch_N`` or
    ``iter_N`` file with the largest N.
    """
    if not osp.isdir(path):
        warnings.warn(f'the work folder {path!r} does not exist')
        return None
    latest = osp.join(path, f'latest.{suffix}')
    if osp.exists(latest):
        return latest
    best, best_n = None, -1
    for candidate in glob.glob(osp.join(path, f'*.{suffix}')):
        match = re.search(rf'(?:epoch|iter)_(\d+)\.{suffix}$', candidate)
        if match and int(match.group(1)) > best_n:
            best, best_n = candidate, int(match.group(1))
    return best


def _process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def remove_stale_tmp_files(work_dir):
    """Delete ``<name>.tmp.<pid>`` files of processes that no longer run
    (left by a save killed half-way) from ``work_dir``; files of running
    processes are kept. Returns the removed paths."""
    removed = []
    if not osp.isdir(work_dir):
        return removed
    for name in sorted(os.listdir(work_dir)):
        match = re.search(r'\.tmp\.(\d+)$', name)
        path = osp.join(work_dir, name)
        if (
            match
            and (osp.isfile(path) or osp.islink(path))
            and not _process_alive(int(match.group(1)))
        ):
            os.remove(path)
            removed.append(path)
    return removed


def update_data_root(cfg, logger=None):
    """Point the config's data at ``$MMDET_DATASETS`` when it is set.

    Every string in ``cfg.data`` (through nested dicts, as MMDetection
    does; lists are left alone) that contains ``cfg.data_root`` gets it
    replaced by the variable's value, which becomes ``cfg.data_root``.
    Without the variable the config is left as it is.

    Args:
        cfg (mmcv.Config): the config, changed in place.
        logger (logging.Logger | str | None): where the note goes.
    """
    if not isinstance(cfg, mmcv.Config):
        raise InvalidArgumentTypeError(
            f'update_data_root takes an mmcv.Config, got {type(cfg)}'
        )
    new_root = os.environ.get('MMDET_DATASETS')
    if new_root is None:
        return
    print_log(
        f'MMDET_DATASETS is set: {new_root} replaces the data root '
        f'{cfg.get("data_root")!r}',
        logger=logger,
    )
    old_root = cfg.get('data_root')

    def update(node):
        for key, value in node.items():
            if isinstance(value, dict):
                update(value)
            elif isinstance(value, str) and old_root and old_root in value:
                node[key] = value.replace(old_root, new_root)

    if 'data' in cfg:
        update(cfg.data)
    cfg.data_root = new_root
