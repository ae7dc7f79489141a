"""Temperature annealing for ODConv attentions when training from scratch."""
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


def set_temperature(model, temperature):
    """Set ``temperature`` on every module of ``model`` that has one
    (``update_temperature``: ODConv2d); return how many were set."""
    count = 0
    for module in model.modules():
        if hasattr(module, 'update_temperature'):
            module.update_temperature(temperature)
            count += 1
    return count


@HOOKS.register_module()
class ODConvTemperatureHook(Hook):
    """Anneal the ODConv attention temperature per iteration.

    Usable from any config::

        custom_hooks = [dict(type='ODConvTemperatureHook', init_temp=30.,
                             anneal_epochs=10)]

    Args:
        init_temp (float): temperature at iteration 0 (the paper: 30).
        final_temp (float): temperature after annealing; models are tested
            at 1.0, so keep the default unless you know better.
        anneal_epochs (int | None): annealing length in epochs (the paper:
            the first 10 epochs); converted to iterations with the length of
            the training data loader.
        anneal_iters (int | None): annealing length in iterations; give this
            or ``anneal_epochs``.

    The temperature is written to the log as ``odconv_temp``. It is a plain
    attribute, not saved in checkpoints: on resume it is recomputed from the
    iteration count, and a finished run leaves it at ``final_temp``.
    """

    def __init__(self, init_temp=30.0, final_temp=1.0, anneal_epochs=None,
                 anneal_iters=None):
        if (anneal_epochs is None) == (anneal_iters is None):
            raise ValueError('give exactly one of anneal_epochs and '
                             'anneal_iters')
        self.init_temp = float(init_temp)
        self.final_temp = float(final_temp)
        self.anneal_epochs = anneal_epochs
        self.anneal_iters = anneal_iters

    def _length(self, runner):
        """Annealing length in iterations."""
        if self.anneal_iters is not None:
            return self.anneal_iters
        if not runner.max_epochs:
            raise ValueError('ODConvTemperatureHook: anneal_epochs needs an '
                             'epoch-based runner; give anneal_iters instead')
        return self.anneal_epochs * (runner.max_iters // runner.max_epochs)

    def before_run(self, runner):
        if self._length(runner) > runner.max_iters:
            runner.logger.warning(
                f'ODConvTemperatureHook anneals over {self._length(runner)} '
                f'iterations but training stops after {runner.max_iters}: '
                'the model is trained at a temperature above '
                f'{self.final_temp} and tested at {self.final_temp}')

    def before_train_iter(self, runner):
        temp = annealed_temperature(runner.iter, self._length(runner),
                                    self.init_temp, self.final_temp)
        if set_temperature(runner.model, temp) == 0 and runner.iter == 0:
            runner.logger.warning('ODConvTemperatureHook: the model has no '
                                  'ODConv layer; the hook does nothing')
        runner.log_buffer.update({'odconv_temp': temp})

    def after_run(self, runner):
        # leave the model as it is evaluated and deployed
        set_temperature(runner.model, self.final_temp)
