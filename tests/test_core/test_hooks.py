"""Runner hooks: ODConv temperature annealing, class-count check, memory."""

import logging

import pytest
import torch
import torch.nn as nn
from mmcv.runner import EpochBasedRunner

from mmdet.core.hook import (
    CPUMemoryHook,
    NumClassCheckHook,
    ODConvTemperatureHook,
    annealed_temperature,
    set_temperature,
)
from mmdet.models.backbones import OD_MobileNetV2, ODConv2d


def test_annealing_schedule_matches_paper_formula():
    # T = 1 + (30 - 1) * max(0, (N - n) / N)
    assert annealed_temperature(0, 100, 30.0) == 30.0
    assert annealed_temperature(50, 100, 30.0) == pytest.approx(15.5)
    assert annealed_temperature(100, 100, 30.0) == 1.0
    assert annealed_temperature(250, 100, 30.0) == 1.0
    assert annealed_temperature(
        25, 100, 30.0, final_temp=10.0
    ) == pytest.approx(25.0)


class ToyODModel(nn.Module):
    """Two ODConv layers and the runner interface."""

    def __init__(self, temperature=1.0):
        super().__init__()
        self.convs = nn.Sequential(
            ODConv2d(3, 4, 3, padding=1), ODConv2d(4, 2, 1)
        )
        for conv in self.convs:
            conv.update_temperature(temperature)
        self.seen = []

    def train_step(self, data, optimizer):
        self.seen.append([m.temperature for m in self.convs])
        loss = self.convs(data).mean()
        return dict(
            loss=loss,
            log_vars=dict(loss=loss.item()),
            num_samples=data.shape[0],
        )


def run_toy(model, hook, epochs=2, iters=5, tmp_path=None):
    runner = EpochBasedRunner(
        model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.0),
        work_dir=str(tmp_path),
        logger=logging.getLogger('toy'),
        max_epochs=epochs,
    )
    runner.register_hook(hook)
    loader = torch.utils.data.DataLoader(
        torch.rand(iters * 2, 3, 8, 8), batch_size=2
    )
    runner.run([loader], [('train', 1)])
    return runner


def test_hook_anneals_per_iteration_to_built_temperature(tmp_path):
    model = ToyODModel(temperature=4.0)
    run_toy(
        model,
        ODConvTemperatureHook(init_temp=30.0, anneal_epochs=1),
        tmp_path=tmp_path,
    )
    temps = [t[0] for t in model.seen]
    want = [annealed_temperature(n, 5, 30.0, 4.0) for n in range(10)]
    assert temps == pytest.approx(want)
    assert temps[5:] == [4.0] * 5  # built temperature once annealed
    assert all(t[0] == t[1] for t in model.seen)  # every layer
    assert [m.temperature for m in model.convs] == [4.0, 4.0]


def test_hook_warns_when_final_differs_from_model(tmp_path):
    model = ToyODModel(temperature=1.0)
    with pytest.warns(UserWarning, match='tested at another temperature'):
        run_toy(
            model,
            ODConvTemperatureHook(
                init_temp=30.0, anneal_iters=3, final_temp=2.0
            ),
            tmp_path=tmp_path,
        )
    assert model.seen[-1] == [2.0, 2.0]


def test_hook_needs_one_length():
    with pytest.raises(ValueError, match='exactly one'):
        ODConvTemperatureHook(init_temp=30.0)
    with pytest.raises(ValueError, match='exactly one'):
        ODConvTemperatureHook(anneal_epochs=1, anneal_iters=5)


def test_od_backbone_temperature_argument():
    net = OD_MobileNetV2(width_mult=0.25, kernel_num=1, temperature=10.0)
    layers = [m for m in net.modules() if isinstance(m, ODConv2d)]
    assert layers and all(m.temperature == 10.0 for m in layers)


def test_memory_hook_puts_memory_in_log(tmp_path):
    model = ToyODModel()
    runner = run_toy(model, CPUMemoryHook(), epochs=1, tmp_path=tmp_path)
    assert runner.log_buffer.output['memory'] > 10  # MB


class _Head(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.num_classes = num_classes


def test_num_class_check_hook_names_both_numbers():

    class Runner:
        pass

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.roi_head = _Head(80)
            self.rpn_head = _Head(1)  # class-agnostic: not checked

    class Loader:
        class dataset:
            CLASSES = ('a', 'b', 'c')

    runner = Runner()
    runner.model = Model()
    runner.data_loader = Loader()
    runner.logger = logging.getLogger('toy')
    with pytest.raises(ValueError, match='3 classes.*num_classes` is 80'):
        NumClassCheckHook().before_train_epoch(runner)
    runner.model.roi_head.num_classes = 3
    NumClassCheckHook().before_train_epoch(runner)


def test_set_temperature_sets_and_counts_each_odconv_layer_once():
    net = OD_MobileNetV2(width_mult=0.5, kernel_num=2)
    layers = [m for m in net.modules() if isinstance(m, ODConv2d)]
    assert set_temperature(net, 7.5) == len(layers) == 2 + 16 * 3 + 1
    assert all(m.temperature == 7.5 for m in layers)
    # the attention is not a layer of its own: ODConv2d sets it
    assert not hasattr(layers[0].attention, 'update_temperature')


class _ScoredSet(torch.utils.data.Dataset):
    """A validation set whose ``evaluate`` returns the next of ``scores``."""

    def __init__(self, scores):
        self.scores = list(scores)

    def __len__(self):
        return 1

    def __getitem__(self, i):
        return torch.zeros(1)

    def evaluate(self, results, logger=None, **kwargs):
        return dict(bbox_mAP=self.scores.pop(0))


def _best_hook(scores):
    from mmdet.core import EvalHook

    loader = torch.utils.data.DataLoader(_ScoredSet(scores), batch_size=1)
    return EvalHook(
        loader,
        save_best='bbox_mAP',
        test_fn=lambda model, data_loader, show=False: [None],
    )


def test_save_best_keeps_mmcvs_files_and_messages(tmp_path, caplog):
    hook = _best_hook([0.1, 0.3, 0.2])
    with caplog.at_level(logging.INFO, logger='toy'):
        runner = run_toy(
            ToyODModel(), hook, epochs=3, iters=1, tmp_path=tmp_path
        )
    best = tmp_path / 'best_bbox_mAP_epoch_2.pth'
    assert sorted(p.name for p in tmp_path.glob('best_*')) == [best.name]
    assert runner.meta['hook_msgs']['best_score'] == 0.3
    assert runner.meta['hook_msgs']['best_ckpt'] == str(best)
    assert 'Best bbox_mAP is 0.3000 at 2 epoch.' in caplog.text
    assert 'previous best checkpoint' in caplog.text
    assert torch.load(str(best), weights_only=False)['meta']['epoch'] == 2


def test_save_best_keeps_the_old_best_when_saving_the_new_one_dies(
    tmp_path, monkeypatch
):
    """mmcv removes the previous best before writing the new one; a crash
    in between left no best checkpoint at all."""
    hook = _best_hook([0.1, 0.3])
    saves = []
    real_save = EpochBasedRunner.save_checkpoint

    def save_then_die(self, *args, **kwargs):
        saves.append(kwargs.get('filename_tmpl'))
        if len(saves) == 2:
            raise KeyboardInterrupt('killed while saving')
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(EpochBasedRunner, 'save_checkpoint', save_then_die)
    with pytest.raises(KeyboardInterrupt):
        run_toy(ToyODModel(), hook, epochs=2, iters=1, tmp_path=tmp_path)
    assert saves == ['best_bbox_mAP_epoch_1.pth', 'best_bbox_mAP_epoch_2.pth']
    assert [p.name for p in tmp_path.glob('best_*')] == [
        'best_bbox_mAP_epoch_1.pth'
    ]
    assert not list(tmp_path.glob('*.pth.tmp*'))
