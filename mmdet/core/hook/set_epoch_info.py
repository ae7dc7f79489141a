"""Tell the model the current epoch (MMDetection's ``SetEpochInfoHook``),
for heads whose training changes with it (TOOD's ATSS warm-up)."""

from mmcv.parallel import is_module_wrapper
from mmcv.runner import HOOKS, Hook


@HOOKS.register_module()
class SetEpochInfoHook(Hook):
    """Calls ``model.set_epoch(runner.epoch)`` before every train epoch."""

    def before_train_epoch(self, runner):
        model = runner.model
        if is_module_wrapper(model):
            model = model.module
        model.set_epoch(runner.epoch)
