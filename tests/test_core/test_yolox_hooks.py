"""The YOLOX training hooks (and the SSD configs' CheckInvalidLossHook) on
a stand-in runner: the switch to the last phase, the EMA update and swap,
the YOLOX learning-rate schedule against its formula written out."""

import logging
import math
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from mmdet.core.hook import (
    ExpMomentumEMAHook,
    SyncNormHook,
    YOLOXLrUpdaterHook,
    YOLOXModeSwitchHook,
    get_norm_states,
)


class FakeDataset:
    skip = None

    def update_skip_type_keys(self, keys):
        self.skip = keys


def runner(epoch, max_epochs=20, model=None, it=0):
    loader = SimpleNamespace(dataset=FakeDataset(), persistent_workers=False)
    return SimpleNamespace(
        epoch=epoch,
        max_epochs=max_epochs,
        iter=it,
        data_loader=loader,
        model=model,
        logger=logging.getLogger('test'),
    )


def test_mode_switch_turns_on_l1_and_drops_mosaic_at_last_phase():
    model = SimpleNamespace(bbox_head=SimpleNamespace(use_l1=False))
    hook = YOLOXModeSwitchHook(num_last_epochs=5)
    early = runner(epoch=13, model=model)
    hook.before_train_epoch(early)
    assert (
        not model.bbox_head.use_l1 and early.data_loader.dataset.skip is None
    )
    last = runner(epoch=14, model=model)  # epoch 15 of 20 starts
    hook.before_train_epoch(last)
    assert model.bbox_head.use_l1
    assert last.data_loader.dataset.skip == ('Mosaic', 'RandomAffine', 'MixUp')


def test_sync_norm_every_epoch_in_last_phase_and_collects_bn_state():
    hook = SyncNormHook(num_last_epochs=5, interval=10)
    hook.before_train_epoch(runner(epoch=14))
    assert hook.interval == 1
    model = nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2))
    assert set(get_norm_states(model)) == {
        '1.weight',
        '1.bias',
        '1.running_mean',
        '1.running_var',
        '1.num_batches_tracked',
    }


def test_exp_momentum_ema_update_and_swap():
    model = nn.Linear(1, 1, bias=False)
    model.weight.data.fill_(1.0)
    hook = ExpMomentumEMAHook(momentum=0.1, total_iter=10)
    r = runner(epoch=0, model=model, it=4)
    hook.before_run(r)
    model.weight.data.fill_(3.0)
    hook.after_train_iter(r)
    m = 0.9 * math.exp(-5 / 10) + 0.1
    expected = (1 - m) * 1.0 + m * 3.0
    assert model.ema_weight.item() == pytest.approx(expected, rel=1e-6)
    hook.after_train_epoch(r)  # the average goes into the weights
    assert model.weight.item() == pytest.approx(expected, rel=1e-6)
    assert model.ema_weight.item() == pytest.approx(3.0)


def test_yolox_lr_warmup_cosine_and_flat_end():
    hook = YOLOXLrUpdaterHook(
        num_last_epochs=2,
        warmup='exp',
        by_epoch=False,
        warmup_ratio=1,
        warmup_iters=4,
        min_lr_ratio=0.05,
    )
    hook.base_lr = [0.01]
    assert hook.get_warmup_lr(1)[0] == pytest.approx(0.01 * (2 / 4) ** 2)
    r = SimpleNamespace(iter=9, max_iters=40, data_loader=[0] * 5)
    # 10 flat iterations at the end (2 epochs of 5 iterations)
    progress = 10
    ratio = (progress - 4) / (40 - 4 - 10)
    cosine = 0.0005 + 0.5 * (0.01 - 0.0005) * (1 + math.cos(math.pi * ratio))
    assert hook.get_lr(r, 0.01) == pytest.approx(cosine)
    r.iter = 30
    assert hook.get_lr(r, 0.01) == pytest.approx(0.0005)
    assert torch.isfinite(torch.tensor(hook.get_lr(r, 0.01)))


def test_check_invalid_loss_hook_stops_on_nan_at_its_interval():
    from mmdet.core.hook import CheckInvalidLossHook, NonFiniteTrainingError

    hook = CheckInvalidLossHook(interval=2)
    r = runner(epoch=0, it=0)
    r.outputs = dict(loss=torch.tensor(float('nan')))
    hook.after_train_iter(r)  # iteration 1: not checked
    r.iter = 1
    with pytest.raises(NonFiniteTrainingError):
        hook.after_train_iter(r)
    r.outputs = dict(loss=torch.tensor(1.0))
    hook.after_train_iter(r)
