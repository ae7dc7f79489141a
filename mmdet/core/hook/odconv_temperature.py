"""Temperature annealing for ODConv attentions when training from scratch."""

import warnings

from mmcv.runner import HOOKS, Hook


def annealed_temperature(iters_done, anneal_iters, init_temp, final_temp=1.0):
    """The ODConv paper's linear schedule.

    ``T = final + (init - final) * max(0, (N - n) / N)`` with ``n`` the
    iterations done and ``N`` the annealing length: ``init`` at the start,
    ``final`` from iteration ``N`` on.
    """
    if anneal_iters <= 0:
        return final_temp
    left = max(0.0, (anneal_iters - iters_done) / anneal_iters)
    return final_temp + (init_temp - final_temp) * left


def _temperature_layers(model):
    """The modules of ``model`` with a settable attention temperature
    (``update_temperature``: ODConv2d), outermost only: what such a module
    holds inside is its own business."""
    if hasattr(model, 'update_temperature'):
        return [model]
    return [
        layer
        for child in model.children()
        for layer in _temperature_layers(child)
    ]


def set_temperature(model, temperature):
    """Set ``temperature`` on every ODConv layer of ``model`` (every module
    with ``update_temperature``); return how many were set. The one way
    temperatures are set: the backbones' ``net_update_temperature`` and
    ``ODConvTemperatureHook`` call it."""
    layers = _temperature_layers(model)
    for module in layers:
        module.update_temperature(temperature)
    return len(layers)


@HOOKS.register_module()
class ODConvTemperatureHook(Hook):
    """Anneal the ODConv attention temperature per iteration.

    Usable from any config::

        custom_hooks = [dict(type='ODConvTemperatureHook', init_temp=30.,
                             anneal_epochs=10)]

    The temperature falls linearly from ``init_temp`` to the temperature the
    model is built with (the OD backbones' ``temperature`` argument, 1.0 by
    default), so the trained model is tested and deployed at the temperature
    it ends training at. It is written to the log as ``odconv_temp``. It is
    not saved in checkpoints (the released format has no such entry): on
    resume it is recomputed from the iteration count.

    Args:
        init_temp (float): temperature at iteration 0 (the paper: 30).
        anneal_epochs (int | None): annealing length in epochs (the paper:
            the first 10 of ImageNet training), converted to iterations with
            the length of an epoch.
        anneal_iters (int | None): annealing length in iterations; give this
            or ``anneal_epochs``.
        final_temp (float | None): where annealing ends; by default the
            model's own temperature. A different value trains the model at a
            temperature other than the one it is tested at, with a warning.
    """

    def __init__(
        self,
        init_temp=30.0,
        anneal_epochs=None,
        anneal_iters=None,
        final_temp=None,
    ):
        if (anneal_epochs is None) == (anneal_iters is None):
            raise ValueError(
                'give exactly one of anneal_epochs and anneal_iters'
            )
        self.init_temp = float(init_temp)
        self.final_temp = None if final_temp is None else float(final_temp)
        self.anneal_epochs = anneal_epochs
        self.anneal_iters = anneal_iters
        self._target = None

    def _length(self, runner):
        """Annealing length in iterations."""
        if self.anneal_iters is not None:
            return self.anneal_iters
        if not runner.max_epochs:
            raise ValueError(
                'ODConvTemperatureHook: anneal_epochs needs an '
                'epoch-based runner; give anneal_iters instead'
            )
        return self.anneal_epochs * (runner.max_iters // runner.max_epochs)

    def before_run(self, runner):
        layers = _temperature_layers(runner.model)
        if not layers:
            runner.logger.warning(
                'ODConvTemperatureHook: the model has no '
                'ODConv layer; the hook does nothing'
            )
            return
        built = sorted({float(m.temperature) for m in layers})
        if self.final_temp is None:
            if len(built) > 1:
                raise ValueError(
                    'the ODConv layers have different '
                    f'temperatures {built}: give final_temp'
                )
            self._target = built[0]
        else:
            self._target = self.final_temp
            if built != [self.final_temp]:
                warnings.warn(
                    f'ODConvTemperatureHook ends at {self.final_temp} but the '
                    f'model is built with temperature {built}: it will be '
                    'tested at another temperature than it trained at. Set '
                    'the backbone\'s `temperature` instead of final_temp.'
                )
        if self._length(runner) > runner.max_iters:
            runner.logger.warning(
                f'ODConvTemperatureHook anneals over {self._length(runner)} '
                f'iterations but training stops after {runner.max_iters}: '
                f'the model is trained above its temperature {self._target}'
            )

    def before_train_iter(self, runner):
        if self._target is None:
            return
        temp = annealed_temperature(
            runner.iter, self._length(runner), self.init_temp, self._target
        )
        set_temperature(runner.model, temp)
        runner.log_buffer.update({'odconv_temp': temp})

    def after_run(self, runner):
        if self._target is not None:
            set_temperature(runner.model, self._target)
