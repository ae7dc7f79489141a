"""Checkpoints are saved atomically (complete or absent) by the training
checkpoint hook, and mmcv's own checkpoint loading (the runner's
``resume`` / ``load_from``) goes through the safe reader."""

import logging
import os

import pytest
import torch
from mmcv.runner import (
    EpochBasedRunner,
    build_optimizer,
    load_checkpoint,
    save_checkpoint,
)

from mmdet.core.hook import AtomicCheckpointHook, save_checkpoint_atomically
from mmdet.utils.checkpoint_reader import UnsafeCheckpointError


class _Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(2, 2)

    def train_step(self, data, optimizer):
        loss = self.fc(data).sum()
        return dict(
            loss=loss, log_vars=dict(loss=loss.item()), num_samples=len(data)
        )


def _runner(work_dir):
    model = _Model()
    optimizer = build_optimizer(model, dict(type='SGD', lr=0.1))
    return EpochBasedRunner(
        model,
        optimizer=optimizer,
        work_dir=str(work_dir),
        logger=logging.getLogger('test'),
        max_epochs=3,
        meta=dict(),
    )


def test_failed_save_leaves_old_file_and_no_staging(tmp_path, monkeypatch):
    runner = _runner(tmp_path)
    target = tmp_path / 'epoch_1.pth'
    target.write_bytes(b'old complete checkpoint')

    def crash(fd):
        raise OSError('disk full')

    monkeypatch.setattr(os, 'fsync', crash)
    with pytest.raises(OSError, match='disk full'):
        save_checkpoint_atomically(runner, str(tmp_path))
    assert target.read_bytes() == b'old complete checkpoint'
    assert os.listdir(tmp_path) == ['epoch_1.pth']


def test_hook_saves_by_rename_links_latest_and_keeps_max(
    tmp_path, monkeypatch
):
    runner = _runner(tmp_path)
    hook = AtomicCheckpointHook(interval=1, max_keep_ckpts=2)
    runner.register_hook(hook)
    (tmp_path / '.saving.killed').mkdir()  # left by a killed run
    replaced = []
    real_replace = os.replace
    monkeypatch.setattr(
        os,
        'replace',
        lambda a, b: (
            replaced.append(os.path.basename(b)),
            real_replace(a, b),
        ),
    )
    loader = [torch.ones(1, 2)] * 2
    runner.run([loader], [('train', 1)])
    assert replaced == [
        'epoch_1.pth',
        'latest.pth',
        'epoch_2.pth',
        'latest.pth',
        'epoch_3.pth',
        'latest.pth',
    ]
    assert sorted(os.listdir(tmp_path)) == [
        'epoch_2.pth',
        'epoch_3.pth',
        'latest.pth',
    ]
    assert os.readlink(tmp_path / 'latest.pth') == 'epoch_3.pth'
    assert runner.meta['hook_msgs']['last_ckpt'] == str(
        tmp_path / 'epoch_3.pth'
    )
    saved = torch.load(tmp_path / 'latest.pth', weights_only=True)
    assert saved['meta']['epoch'] == 3
    assert torch.equal(
        saved['state_dict']['fc.weight'], runner.model.fc.weight
    )
    # resume reads it back through mmcv's loader (the safe reader)
    resumed = _runner(tmp_path)
    resumed.resume(str(tmp_path / 'latest.pth'))
    assert resumed.epoch == 3
    assert torch.equal(resumed.model.fc.weight, runner.model.fc.weight)


class _WritesMarker:
    """Unpickling this would create ``path``: code run by a checkpoint."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return open, (self.path, 'w')


def test_mmcv_load_checkpoint_uses_the_safe_reader(tmp_path):
    model = _Model()
    good = str(tmp_path / 'good.pth')
    save_checkpoint(model, good)
    fresh = _Model()
    load_checkpoint(fresh, good, map_location='cpu', strict=True)
    assert torch.equal(fresh.fc.weight, model.fc.weight)

    marker = tmp_path / 'code_was_run'
    evil = str(tmp_path / 'evil.pth')
    torch.save(
        dict(
            state_dict=model.state_dict(),
            meta=dict(payload=_WritesMarker(str(marker))),
        ),
        evil,
    )
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        load_checkpoint(fresh, evil, map_location='cpu')
    assert not marker.exists()
