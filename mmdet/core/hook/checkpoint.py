"""Checkpoints written atomically: a checkpoint file is complete or absent.

mmcv's runner writes ``epoch_N.pth`` by opening the target and writing into
it, so a run killed during the write leaves a truncated file that cannot be
resumed from. ``save_checkpoint_atomically`` lets the runner write into a
staging folder beside the target, flushes the file to disk and renames it
into place (``os.replace`` is atomic on POSIX and Windows); ``latest.pth``
is switched the same way. ``AtomicCheckpointHook`` is mmcv's
``CheckpointHook`` (same arguments, same schedule, same ``max_keep_ckpts``
clean-up) saving this way; ``train_detector`` uses it for a
``checkpoint_config`` that names no ``type``.
"""

import glob
import os
import os.path as osp
import platform
import shutil
import tempfile

from mmcv.fileio.file_client import HardDiskBackend
from mmcv.runner import HOOKS, CheckpointHook
from mmcv.runner.dist_utils import master_only

STAGING_PREFIX = '.saving.'


def _fsync(path):
    with open(path, 'rb') as f:
        os.fsync(f.fileno())


def replace_link(filename, link_path):
    """Point ``link_path`` at ``filename`` (relative, in the same folder) in
    one step: a new link is made beside it and renamed over it (a copy on
    Windows)."""
    folder = osp.dirname(link_path)
    tmp_path = f'{link_path}.tmp.{os.getpid()}'
    if platform.system() == 'Windows':
        shutil.copy(osp.join(folder, filename), tmp_path)
    else:
        if osp.lexists(tmp_path):
            os.remove(tmp_path)
        os.symlink(filename, tmp_path)
    os.replace(tmp_path, link_path)


def save_checkpoint_atomically(runner, out_dir, create_symlink=True, **kwargs):
    """``runner.save_checkpoint(out_dir, **kwargs)``, atomically.

    The runner saves into a staging folder inside ``out_dir`` (same file
    system, so the final rename is atomic); the file is flushed to disk,
    renamed into ``out_dir`` and, with ``create_symlink``, ``latest.pth``
    is pointed at it.

    Returns:
        str: the path of the saved checkpoint.
    """
    os.makedirs(out_dir, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out_dir)
    try:
        runner.save_checkpoint(staging, create_symlink=False, **kwargs)
        saved = os.listdir(staging)
        if len(saved) != 1:
            raise RuntimeError(
                f'expected the runner to write one checkpoint '
                f'file, found {saved} in {staging}'
            )
        filename = saved[0]
        _fsync(osp.join(staging, filename))
        final_path = osp.join(out_dir, filename)
        os.replace(osp.join(staging, filename), final_path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if create_symlink:
        replace_link(filename, osp.join(out_dir, 'latest.pth'))
    return final_path


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmcv's ``CheckpointHook`` whose local checkpoints are written
    atomically (``save_checkpoint_atomically``); the arguments are
    ``CheckpointHook``'s. Staging folders left by a killed run are removed
    when the next run starts. Remote ``out_dir`` s (other file backends)
    are saved as ``CheckpointHook`` saves them."""

    def before_run(self, runner):
        super().before_run(runner)
        if self._local():
            for path in glob.glob(
                osp.join(self.out_dir, STAGING_PREFIX + '*')
            ):
                shutil.rmtree(path, ignore_errors=True)

    def _local(self):
        return isinstance(self.file_client.client, HardDiskBackend)

    @master_only
    def _save_checkpoint(self, runner):
        """Save (atomically), record ``hook_msgs['last_ckpt']`` and remove
        checkpoints beyond ``max_keep_ckpts``, as the base class does."""
        if not self._local():
            return super()._save_checkpoint(runner)
        path = save_checkpoint_atomically(
            runner,
            self.out_dir,
            save_optimizer=self.save_optimizer,
            **self.args,
        )
        if runner.meta is not None:
            runner.meta.setdefault('hook_msgs', dict())
            runner.meta['hook_msgs']['last_ckpt'] = path
        self._remove_old_checkpoints(runner)

    def _remove_old_checkpoints(self, runner):
        if self.max_keep_ckpts <= 0:
            return
        if self.by_epoch:
            current, name = runner.epoch + 1, 'epoch_{}.pth'
        else:
            current, name = runner.iter + 1, 'iter_{}.pth'
        filename_tmpl = self.args.get('filename_tmpl', name)
        for step in range(
            current - self.max_keep_ckpts * self.interval, 0, -self.interval
        ):
            path = osp.join(self.out_dir, filename_tmpl.format(step))
            if osp.isfile(path):
                os.remove(path)
