"""Stop (or skip a bounded number of) training steps whose loss or gradient
norm is not finite.

mmcv's ``OptimizerHook`` steps whatever the backward pass produced: one NaN
gradient (the clipping coefficient of a NaN norm is NaN too) turns every
weight into NaN, and the run goes on saving such checkpoints and exits 0.
``FiniteCheckOptimizerHook`` is that hook with a check between the backward
pass and the optimizer step: a non-finite loss or gradient norm never
reaches the weights. It then stops the run with
``NonFiniteTrainingError`` (naming the iteration, the loss terms, the
gradient norm and the last checkpoint saved), or, while the config's
``skip_nonfinite_steps`` allows it, logs a warning and skips the step.
"""

import math
import os.path as osp

import torch
import torch.distributed as dist
from mmcv.runner import HOOKS, Hook, OptimizerHook

CAUSES = {
    'lr': 'a learning rate too high for the batch size (optimizer.lr; '
    '--auto-scale-lr scales it)',
    'clip': 'no gradient clipping (optimizer_config = dict(grad_clip=dict('
    'max_norm=10, norm_type=2)))',
    'odconv': 'for ODConv trained from scratch, too low an attention '
    'temperature (docs/odconv.md, "Training from scratch")',
}
SKIP_HELP = (
    'To skip up to N such steps instead of stopping, set '
    '`skip_nonfinite_steps = N` in the config.'
)


class NonFiniteTrainingError(RuntimeError):
    """The loss or the gradient norm of a training step is NaN or Inf."""


def _format_number(value):
    return f'{value:.4f}' if isinstance(value, float) else str(value)


def _total_norm(params):
    """L2 norm of all gradients of ``params`` (a float tensor)."""
    norms = [torch.linalg.vector_norm(p.grad.detach()) for p in params]
    if not norms:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack(norms))


def _all_ranks_finite(finite, device):
    """``finite`` on every process (one all-reduce when distributed)."""
    if not (dist.is_available() and dist.is_initialized()):
        return finite
    flag = torch.tensor(float(finite), device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MIN)
    return bool(flag.item())


def _buffers_finite(model):
    return all(
        torch.isfinite(buf).all()
        for buf in model.buffers()
        if buf.is_floating_point()
    )


@HOOKS.register_module()
class FiniteCheckOptimizerHook(OptimizerHook):
    """mmcv's ``OptimizerHook`` (``grad_clip``, ``detect_anomalous_params``)
    that never steps with a non-finite loss or gradient norm.

    Args:
        max_skips (int): how many such steps a run may skip (with a warning
            each) before it stops; 0 (the default) stops at the first. A
            step whose forward pass already left non-finite BatchNorm
            statistics is never skipped: those would be saved.
    """

    def __init__(
        self, grad_clip=None, detect_anomalous_params=False, max_skips=0
    ):
        super().__init__(grad_clip, detect_anomalous_params)
        if not isinstance(max_skips, int) or max_skips < 0:
            raise ValueError(
                'skip_nonfinite_steps must be an integer >= 0, '
                f'got {max_skips!r}'
            )
        self.max_skips = max_skips
        self.skipped = 0

    def after_train_iter(self, runner):
        runner.optimizer.zero_grad()
        loss = runner.outputs['loss']
        if self.detect_anomalous_params:
            self.detect_anomalous_parameters(loss, runner)
        # every process runs the backward pass, so that a distributed run
        # reduces its gradients and all processes decide together
        loss.backward()
        params = [
            p
            for p in runner.model.parameters()
            if p.requires_grad and p.grad is not None
        ]
        if self.grad_clip is not None and params:
            grad_norm = self.clip_grads(params)
        else:
            grad_norm = _total_norm(params)
        grad_norm = float(grad_norm)
        finite = bool(torch.isfinite(loss.detach()).all()) and math.isfinite(
            grad_norm
        )
        if _all_ranks_finite(finite, loss.device):
            if self.grad_clip is not None:
                runner.log_buffer.update(
                    {'grad_norm': grad_norm}, runner.outputs['num_samples']
                )
            runner.optimizer.step()
            return
        runner.optimizer.zero_grad()
        self._not_finite(runner, float(loss.detach().sum()), grad_norm)

    def _not_finite(self, runner, loss, grad_norm):
        """Skip the step if allowed, else raise ``NonFiniteTrainingError``."""
        what = 'the loss' if not math.isfinite(loss) else 'the gradient norm'
        where = (
            f'epoch {runner.epoch + 1}, iteration {runner.inner_iter + 1}'
            f' (iteration {runner.iter + 1} of the run)'
        )
        if self.skipped < self.max_skips and _buffers_finite(runner.model):
            self.skipped += 1
            runner.logger.warning(
                f'{what} is not finite at {where}: step skipped '
                f'({self.skipped} of at most {self.max_skips}, '
                f'skip_nonfinite_steps); {self._terms(runner, grad_norm)}'
            )
            return
        message = self.report(runner, what, where, grad_norm)
        runner.logger.error(message)
        raise NonFiniteTrainingError(message)

    @staticmethod
    def _terms(runner, grad_norm):
        log_vars = runner.outputs.get('log_vars', {})
        terms = ', '.join(
            f'{k}={_format_number(v)}' for k, v in log_vars.items()
        )
        return f'loss terms: {terms}; gradient norm: {grad_norm:.4g}'

    def report(self, runner, what, where, grad_norm):
        """The message that stops the run."""
        lines = [
            f'Training stopped: {what} is not finite at {where}.',
            f'  {self._terms(runner, grad_norm)}',
        ]
        lrs = runner.current_lr()
        if isinstance(lrs, list):
            lines.append('  lr: ' + ', '.join(f'{lr:.3e}' for lr in lrs))
        if self.skipped:
            lines.append(
                f'  {self.skipped} earlier step(s) were skipped '
                f'(skip_nonfinite_steps = {self.max_skips}).'
            )
        last = (runner.meta or {}).get('hook_msgs', {}).get('last_ckpt')
        if last:
            lines.append(
                'The weights were not updated with this step and nothing '
                f'was saved after it; the last good checkpoint is '
                f'{osp.realpath(last)} (continue from it with --resume-from '
                'once the cause is fixed).'
            )
        else:
            lines.append(
                'The weights were not updated with this step; no '
                'checkpoint had been saved by this run yet.'
            )
        causes = [CAUSES['lr'], CAUSES['odconv']]
        if self.grad_clip is None:
            causes.insert(1, CAUSES['clip'])
        lines.append('Common causes: ' + '; '.join(causes) + '. ' + SKIP_HELP)
        return '\n'.join(lines)


@HOOKS.register_module()
class CheckInvalidLossHook(Hook):
    """MMDetection's check (its SSD configs name it): every ``interval``
    iterations, stop with an error if the loss is not finite (after the
    optimizer step; ``FiniteCheckOptimizerHook`` checks before it).

    Args:
        interval (int): iterations between checks.
    """

    def __init__(self, interval=50):
        self.interval = interval

    def after_train_iter(self, runner):
        if not self.every_n_iters(runner, self.interval):
            return
        if not torch.isfinite(runner.outputs['loss']):
            runner.logger.info('loss become infinite or NaN!')
            raise NonFiniteTrainingError(
                f'loss is {runner.outputs["loss"].item()} at iteration '
                f'{runner.iter + 1}'
            )
