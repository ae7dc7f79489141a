"""Exponential moving averages of the model weights (MMDetection's EMA
hooks): the averages live in buffers of the model (``ema_<name>``) and
are swapped in for evaluation and checkpoints at the end of each epoch.
"""

import math

from mmcv.parallel import is_module_wrapper
from mmcv.runner.hooks import HOOKS, Hook

from mmdet.utils.arg_errors import InvalidArgumentError


class BaseEMAHook(Hook):
    """``ema = (1 - m) * ema + m * weight`` every ``interval`` iterations.

    Args:
        momentum (float): ``m`` in (0, 1), or the base of
            ``momentum_fun``.
        interval (int): iterations between updates.
        skip_buffers (bool): average only the parameters, not the buffers
            (running statistics).
        resume_from (str, optional): checkpoint to resume from once the
            EMA buffers exist.
        momentum_fun (callable, optional): ``m`` from the iteration.
    """

    def __init__(
        self,
        momentum=0.0002,
        interval=1,
        skip_buffers=False,
        resume_from=None,
        momentum_fun=None,
    ):
        if not 0 < momentum < 1:
            raise InvalidArgumentError(
                f'momentum must be in (0, 1), got {momentum}'
            )
        self.momentum = momentum
        self.skip_buffers = skip_buffers
        self.interval = interval
        self.checkpoint = resume_from
        self.momentum_fun = momentum_fun

    def before_run(self, runner):
        model = runner.model
        if is_module_wrapper(model):
            model = model.module
        self.param_ema_buffer = {}
        if self.skip_buffers:
            self.model_parameters = dict(model.named_parameters())
        else:
            self.model_parameters = model.state_dict()
        for name, value in self.model_parameters.items():
            buffer_name = f"ema_{name.replace('.', '_')}"
            self.param_ema_buffer[name] = buffer_name
            model.register_buffer(buffer_name, value.data.clone())
        self.model_buffers = dict(model.named_buffers())
        if self.checkpoint is not None:
            runner.resume(self.checkpoint)

    def get_momentum(self, runner):
        if self.momentum_fun:
            return self.momentum_fun(runner.iter)
        return self.momentum

    def after_train_iter(self, runner):
        if (runner.iter + 1) % self.interval != 0:
            return
        momentum = self.get_momentum(runner)
        for name, value in self.model_parameters.items():
            if value.dtype.is_floating_point:
                ema = self.model_buffers[self.param_ema_buffer[name]]
                ema.mul_(1 - momentum).add_(value.data, alpha=momentum)

    def after_train_epoch(self, runner):
        self._swap_ema_parameters()

    def before_train_epoch(self, runner):
        self._swap_ema_parameters()

    def _swap_ema_parameters(self):
        for name, value in self.model_parameters.items():
            ema = self.model_buffers[self.param_ema_buffer[name]]
            weight = value.data.clone()
            value.data.copy_(ema.data)
            ema.data.copy_(weight)


@HOOKS.register_module()
class ExpMomentumEMAHook(BaseEMAHook):
    """EMA with ``m = (1 - momentum) * exp(-(1 + iter) / total_iter) +
    momentum``: close to 1 (follow the weights) early, ``momentum``
    later."""

    def __init__(self, total_iter=2000, **kwargs):
        super().__init__(**kwargs)
        self.momentum_fun = lambda it: (
            (1 - self.momentum) * math.exp(-(1 + it) / total_iter)
            + self.momentum
        )


@HOOKS.register_module()
class LinearMomentumEMAHook(BaseEMAHook):
    """EMA with ``m = min(momentum ** interval, (1 + iter) / (warm_up +
    iter))``."""

    def __init__(self, warm_up=100, **kwargs):
        super().__init__(**kwargs)
        self.momentum_fun = lambda it: min(
            self.momentum**self.interval, (1 + it) / (warm_up + it)
        )
