"""Evaluation on the validation set during training.

mmcv's ``EvalHook`` already does the scheduling (``interval``, ``start``,
``by_epoch``) and best-checkpoint keeping (``save_best``, ``rule``); these
subclasses run the detection test loop they are given (``test_fn``:
``train_detector`` passes ``mmdet.apis.single_gpu_test`` /
``multi_gpu_test``; ``core`` never imports ``apis``) and keep the logged
numbers plain Python floats, so checkpoints carrying them (the best
score sits in ``meta['hook_msgs']``) load under
``torch.load(weights_only=True)``.
"""
import os.path as osp
import warnings

import torch.distributed as dist
from mmcv.runner import DistEvalHook as MMCVDistEvalHook
from mmcv.runner import EvalHook as MMCVEvalHook
from torch.nn.modules.batchnorm import _BatchNorm


def _as_python_numbers(eval_res):
    """numpy scalars -> float; strings such as ``bbox_mAP_copypaste`` kept."""
    return {key: val if isinstance(val, str) else float(val)
            for key, val in eval_res.items()}


class _DetEvaluateMixin:
    """``evaluate`` for both hooks: log the metrics, return the key score."""

    def _check_test_fn(self, test_fn):
        if test_fn is None:
            raise TypeError(
                f'{type(self).__name__} needs test_fn, the detection test '
                'loop: mmdet.apis.single_gpu_test (EvalHook) or '
                'mmdet.apis.multi_gpu_test (DistEvalHook)')

    def evaluate(self, runner, results):
        eval_res = _as_python_numbers(self.dataloader.dataset.evaluate(
            results, logger=runner.logger, **self.eval_kwargs))
        runner.log_buffer.output.update(eval_res)
        runner.log_buffer.ready = True
        if self.save_best is None:
            return None
        if not eval_res:
            warnings.warn('evaluation returned no metric: the best '
                          'checkpoint is not updated this time')
            return None
        if self.key_indicator == 'auto':
            self._init_rule(self.rule, next(iter(eval_res)))
        return eval_res[self.key_indicator]


class EvalHook(_DetEvaluateMixin, MMCVEvalHook):
    """Single-process evaluation hook.

    Args: as mmcv's ``EvalHook`` (``dataloader``, ``start``, ``interval``,
    ``by_epoch``, ``save_best``, ``rule``, ...) with ``test_fn`` required
    (``mmdet.apis.single_gpu_test``); the remaining keyword arguments
    (``metric``, ``classwise``, ...) go to ``dataset.evaluate``.
    """

    def __init__(self, dataloader, *args, test_fn=None, **kwargs):
        self._check_test_fn(test_fn)
        super().__init__(dataloader, *args, test_fn=test_fn, **kwargs)

    def _do_evaluate(self, runner):
        if not self._should_evaluate(runner):
            return
        results = self.test_fn(runner.model, self.dataloader, show=False)
        runner.log_buffer.output['eval_iter_num'] = len(self.dataloader)
        key_score = self.evaluate(runner, results)
        if self.save_best and key_score:
            self._save_ckpt(runner, key_score)


class DistEvalHook(_DetEvaluateMixin, MMCVDistEvalHook):
    """Distributed evaluation hook: every rank tests its share, rank 0
    gathers (through ``tmpdir`` or, with ``gpu_collect``, collectives) and
    evaluates. ``test_fn`` is required (``mmdet.apis.multi_gpu_test``)."""

    def __init__(self, dataloader, *args, test_fn=None, **kwargs):
        self._check_test_fn(test_fn)
        super().__init__(dataloader, *args, test_fn=test_fn, **kwargs)

    def _broadcast_bn_buffers(self, runner):
        for module in runner.model.modules():
            if isinstance(module, _BatchNorm) and module.track_running_stats:
                dist.broadcast(module.running_var, 0)
                dist.broadcast(module.running_mean, 0)

    def _do_evaluate(self, runner):
        # DDP does not keep BatchNorm statistics in sync across ranks:
        # evaluate every rank with rank 0's
        if self.broadcast_bn_buffer:
            self._broadcast_bn_buffers(runner)
        if not self._should_evaluate(runner):
            return
        tmpdir = self.tmpdir or osp.join(runner.work_dir, '.eval_hook')
        results = self.test_fn(runner.model, self.dataloader, tmpdir=tmpdir,
                               gpu_collect=self.gpu_collect)
        if runner.rank == 0:
            print('\n')
            runner.log_buffer.output['eval_iter_num'] = len(self.dataloader)
            key_score = self.evaluate(runner, results)
            if self.save_best and key_score:
                self._save_ckpt(runner, key_score)
