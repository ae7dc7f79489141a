"""Write files atomically: to a temporary name beside the target, then rename.

mmcv saves checkpoints (and ``mmcv.dump`` writes results) through the
``FileClient`` 'disk' backend, which opens the target file and writes into it:
a run killed during the write leaves a truncated ``epoch_N.pth`` that cannot
be resumed from. ``enable_atomic_disk_writes()`` replaces that backend with
one whose writes go to ``<name>.tmp.<pid>`` first and are renamed into place
(``os.replace`` is atomic on POSIX and Windows), so a checkpoint file either
is complete or does not exist.
"""
import os
import os.path as osp

from mmcv.fileio import FileClient
from mmcv.fileio.file_client import HardDiskBackend


def _atomic_write(data, filepath, mode):
    filepath = str(filepath)
    os.makedirs(osp.dirname(osp.abspath(filepath)), exist_ok=True)
    tmp_path = f'{filepath}.tmp.{os.getpid()}'
    try:
        with open(tmp_path, mode) as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_path, filepath)
    finally:
        if osp.exists(tmp_path):
            os.remove(tmp_path)


class AtomicHardDiskBackend(HardDiskBackend):
    """mmcv's local-disk backend; ``put``/``put_text`` write, then rename."""

    def put(self, obj, filepath):
        _atomic_write(obj, filepath, 'wb')

    def put_text(self, obj, filepath, encoding='utf-8'):
        _atomic_write(obj.encode(encoding), filepath, 'wb')


def enable_atomic_disk_writes():
    """Make every FileClient 'disk' write atomic (idempotent)."""
    if FileClient._backends.get('disk') is not AtomicHardDiskBackend:
        FileClient.register_backend(
            'disk', AtomicHardDiskBackend, force=True)
