"""Small helpers shared by the tools and apis."""

import glob
import os
import os.path as osp
import re


def find_latest_checkpoint(work_dir, suffix='pth'):
    """Path of the newest checkpoint in ``work_dir``, or None.

    ``latest.<suffix>`` wins when it exists; otherwise the ``epoch_N`` or
    ``iter_N`` file with the largest N.
    """
    if not osp.isdir(work_dir):
        return None
    latest = osp.join(work_dir, f'latest.{suffix}')
    if osp.exists(latest):
        return latest
    best, best_n = None, -1
    for path in glob.glob(osp.join(work_dir, f'*.{suffix}')):
        match = re.search(rf'(?:epoch|iter)_(\d+)\.{suffix}$', path)
        if match and int(match.group(1)) > best_n:
            best, best_n = path, int(match.group(1))
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
