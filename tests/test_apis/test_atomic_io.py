"""Checkpoint files are written atomically: complete or absent."""
import os

import mmcv
import pytest
import torch
from mmcv.fileio import FileClient

from mmdet.utils import enable_atomic_disk_writes
from mmdet.utils.atomic_io import AtomicHardDiskBackend


def test_failed_write_leaves_old_file_and_no_temporary(tmp_path,
                                                       monkeypatch):
    target = tmp_path / 'latest.pth'
    target.write_bytes(b'old complete checkpoint')
    backend = AtomicHardDiskBackend()

    def crash(fd):
        raise OSError('disk full')

    monkeypatch.setattr(os, 'fsync', crash)
    with pytest.raises(OSError, match='disk full'):
        backend.put(b'new checkpoint, half written', str(target))
    assert target.read_bytes() == b'old complete checkpoint'
    assert os.listdir(tmp_path) == ['latest.pth']


def test_mmcv_writes_go_through_the_atomic_backend(tmp_path, monkeypatch):
    enable_atomic_disk_writes()
    enable_atomic_disk_writes()  # idempotent
    client = FileClient.infer_client(None, str(tmp_path / 'x.pth'))
    assert isinstance(client.client, AtomicHardDiskBackend)
    replaced = []
    real_replace = os.replace
    monkeypatch.setattr(
        os, 'replace', lambda a, b: (replaced.append((a, b)),
                                     real_replace(a, b)))
    model = torch.nn.Linear(2, 2)
    from mmcv.runner import save_checkpoint
    save_checkpoint(model, str(tmp_path / 'epoch_1.pth'))
    mmcv.dump({'a': 1}, str(tmp_path / 'r.pkl'))
    assert [b for _, b in replaced] == [str(tmp_path / 'epoch_1.pth'),
                                        str(tmp_path / 'r.pkl')]
    state = torch.load(tmp_path / 'epoch_1.pth', weights_only=True)
    assert torch.equal(state['state_dict']['weight'], model.weight)
    assert sorted(os.listdir(tmp_path)) == ['epoch_1.pth', 'r.pkl']
