"""Evaluation on the validation set during training.

mmcv's ``EvalHook`` already does the scheduling (``interval``, ``start``,
``by_epoch``) and best-checkpoint keeping (``save_best``, ``rule``); these
subclasses run the detection test loop they are given (``test_fn``:
``train_detector`` passes ``mmdet.apis.single_gpu_test`` /
``multi_gpu_test``; a hook built without one takes that loop from the
loaded ``mmdet.apis`` module when it runs, as MMDetection's hooks do,
without importing it) and keep the logged
numbers plain Python floats, so checkpoints carrying them (the best
score sits in ``meta['hook_msgs']``) load under
``torch.load(weights_only=True)``.
"""

import bisect
import os
import os.path as osp
import sys
import warnings

import torch.distributed as dist
from mmcv.fileio.file_client import HardDiskBackend
from mmcv.runner import DistEvalHook as MMCVDistEvalHook
from mmcv.runner import EvalHook as MMCVEvalHook
from torch.nn.modules.batchnorm import _BatchNorm

from mmdet.utils.arg_errors import InvalidArgumentError
from ..hook.checkpoint import save_checkpoint_atomically
from ..hook.rng_state import preserved_rng_state


def _as_python_numbers(eval_res):
    """numpy scalars -> float; strings such as ``bbox_mAP_copypaste`` kept."""
    return {
        key: val if isinstance(val, str) else float(val)
        for key, val in eval_res.items()
    }


def calc_dynamic_intervals(start_interval, dynamic_intervals):
    """Milestones and intervals of ``dynamic_intervals``.

    Args:
        start_interval (int): the interval before the first milestone.
        dynamic_intervals (list[tuple[int, int]]): ``(epoch, interval)``
            pairs (iterations for iteration-based runs): ``interval`` from
            that epoch on (after ``epoch`` epochs are done).

    Returns:
        tuple[list[int], list[int]]: milestones (starting with 0) and the
        interval from each.
    """
    if not (
        isinstance(dynamic_intervals, (list, tuple))
        and all(
            isinstance(p, tuple) and len(p) == 2 for p in dynamic_intervals
        )
    ):
        raise InvalidArgumentError(
            'evaluation.dynamic_intervals must be a list of (epoch, '
            f'interval) tuples, got {dynamic_intervals!r}'
        )
    milestones = [0] + [epoch for epoch, _ in dynamic_intervals]
    intervals = [start_interval] + [iv for _, iv in dynamic_intervals]
    return milestones, intervals


class _DetEvaluateMixin:
    """What both hooks add to mmcv's: ``dynamic_intervals`` (as in
    MMDetection 2.x: ``[(epoch, interval), ...]``, the evaluation interval
    changes from that epoch on) and ``evaluate`` (log the metrics, return
    the key score).

    The evaluation runs with the random generators' states saved and
    restored around it, so that training draws the same random numbers
    with or without it (and a resumed run, which skips it, repeats the
    uninterrupted run).
    """

    def __init__(self, *args, dynamic_intervals=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.use_dynamic_intervals = dynamic_intervals is not None
        if self.use_dynamic_intervals:
            self.dynamic_milestones, self.dynamic_intervals = (
                calc_dynamic_intervals(self.interval, dynamic_intervals)
            )

    def _decide_interval(self, runner):
        if self.use_dynamic_intervals:
            progress = runner.epoch if self.by_epoch else runner.iter
            step = bisect.bisect(self.dynamic_milestones, progress + 1)
            self.interval = self.dynamic_intervals[step - 1]

    def before_train_epoch(self, runner):
        self._decide_interval(runner)
        super().before_train_epoch(runner)

    def before_train_iter(self, runner):
        self._decide_interval(runner)
        super().before_train_iter(runner)

    def _do_evaluate(self, runner):
        with preserved_rng_state():
            self._run_evaluation(runner)

    def _detection_test_fn(self):
        """The test loop given as ``test_fn``, or else the loop of the
        loaded ``mmdet.apis`` (``single_gpu_test`` / ``multi_gpu_test``),
        taken by name when the hook runs, as MMDetection 2.x's hooks do (so
        a patched ``mmdet.apis.single_gpu_test`` is the one called).
        ``train_detector`` always passes the loop; the lookup serves hooks
        built directly. ``core`` imports nothing of ``apis`` for it."""
        if self._given_test_fn is not None:
            return self._given_test_fn
        apis = sys.modules.get('mmdet.apis')
        if apis is None:
            raise TypeError(
                f'{type(self).__name__} has no test_fn and mmdet.apis is not '
                'loaded: pass test_fn=mmdet.apis.'
                f'{self._default_test_fn_name} (train_detector does)'
            )
        return getattr(apis, self._default_test_fn_name)

    def evaluate(self, runner, results):
        eval_res = _as_python_numbers(
            self.dataloader.dataset.evaluate(
                results, logger=runner.logger, **self.eval_kwargs
            )
        )
        runner.log_buffer.output.update(eval_res)
        runner.log_buffer.ready = True
        if self.save_best is None:
            return None
        if not eval_res:
            warnings.warn(
                'evaluation returned no metric: the best '
                'checkpoint is not updated this time'
            )
            return None
        if self.key_indicator == 'auto':
            self._init_rule(self.rule, next(iter(eval_res)))
        return eval_res[self.key_indicator]


class _AtomicBestMixin:
    """``save_best`` as mmcv keeps it (file ``best_<key>_<epoch|iter>_N.pth``,
    ``hook_msgs['best_score']`` / ``['best_ckpt']``, the same log lines), but
    the new best is written atomically before the previous one is removed:
    a run that dies while saving still has a best checkpoint (mmcv removes
    the old one first). Remote ``out_dir`` s are left to mmcv."""

    def _save_ckpt(self, runner, key_score):
        if not isinstance(self.file_client.client, HardDiskBackend):
            return super()._save_ckpt(runner, key_score)
        unit = 'epoch' if self.by_epoch else 'iter'
        count = (runner.epoch if self.by_epoch else runner.iter) + 1
        hook_msgs = runner.meta['hook_msgs']
        best = hook_msgs.get('best_score', self.init_value_map[self.rule])
        if not self.compare_func(key_score, best):
            return
        name = f'best_{self.key_indicator}_{unit}_{count}.pth'
        previous, path = self.best_ckpt_path, osp.join(self.out_dir, name)
        save_checkpoint_atomically(
            runner, self.out_dir, create_symlink=False, filename_tmpl=name
        )
        self.best_ckpt_path = path
        hook_msgs['best_score'] = key_score
        hook_msgs['best_ckpt'] = path
        if previous and previous != path and osp.isfile(previous):
            os.remove(previous)
            runner.logger.info(
                f'The previous best checkpoint {previous} was removed'
            )
        runner.logger.info(f'Now best checkpoint is saved as {name}.')
        runner.logger.info(
            f'Best {self.key_indicator} is {key_score:0.4f} at {count} {unit}.'
        )


class EvalHook(_DetEvaluateMixin, _AtomicBestMixin, MMCVEvalHook):
    """Single-process evaluation hook.

    Args: as mmcv's ``EvalHook`` (``dataloader``, ``start``, ``interval``,
    ``by_epoch``, ``save_best``, ``rule``, ...) and ``test_fn`` (default
    (``mmdet.apis.single_gpu_test``); the remaining keyword arguments
    (``metric``, ``classwise``, ...) go to ``dataset.evaluate``.
    """

    _default_test_fn_name = 'single_gpu_test'

    def __init__(self, dataloader, *args, test_fn=None, **kwargs):
        self._given_test_fn = test_fn
        super().__init__(dataloader, *args, test_fn=test_fn, **kwargs)

    def _run_evaluation(self, runner):
        if not self._should_evaluate(runner):
            return
        results = self._detection_test_fn()(
            runner.model, self.dataloader, show=False
        )
        runner.log_buffer.output['eval_iter_num'] = len(self.dataloader)
        key_score = self.evaluate(runner, results)
        if self.save_best and key_score:
            self._save_ckpt(runner, key_score)


class DistEvalHook(_DetEvaluateMixin, _AtomicBestMixin, MMCVDistEvalHook):
    """Distributed evaluation hook: every rank tests its share, rank 0
    gathers (through ``tmpdir`` or, with ``gpu_collect``, collectives) and
    evaluates. ``test_fn`` defaults to ``mmdet.apis.multi_gpu_test``."""

    _default_test_fn_name = 'multi_gpu_test'

    def __init__(self, dataloader, *args, test_fn=None, **kwargs):
        self._given_test_fn = test_fn
        super().__init__(dataloader, *args, test_fn=test_fn, **kwargs)

    def _broadcast_bn_buffers(self, runner):
        for module in runner.model.modules():
            if isinstance(module, _BatchNorm) and module.track_running_stats:
                dist.broadcast(module.running_var, 0)
                dist.broadcast(module.running_mean, 0)

    def _run_evaluation(self, runner):
        # DDP does not keep BatchNorm statistics in sync across ranks:
        # evaluate every rank with rank 0's
        if self.broadcast_bn_buffer:
            self._broadcast_bn_buffers(runner)
        if not self._should_evaluate(runner):
            return
        tmpdir = self.tmpdir or osp.join(runner.work_dir, '.eval_hook')
        results = self._detection_test_fn()(
            runner.model,
            self.dataloader,
            tmpdir=tmpdir,
            gpu_collect=self.gpu_collect,
        )
        if runner.rank == 0:
            print('\n')
            runner.log_buffer.output['eval_iter_num'] = len(self.dataloader)
            key_score = self.evaluate(runner, results)
            if self.save_best and key_score:
                self._save_ckpt(runner, key_score)
