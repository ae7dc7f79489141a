"""Small helpers shared by the tools and apis."""
import glob
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
