"""The training hooks MMDetection's YOLOX configs name: the switch to
the plain pipeline and the L1 loss for the last epochs, the averaging of
norm statistics over GPUs, and YOLOX's learning-rate schedule."""

from collections import OrderedDict

from mmcv.parallel import is_module_wrapper
from mmcv.runner import get_dist_info
from mmcv.runner.hooks import HOOKS, Hook
from mmcv.runner.hooks.lr_updater import (
    CosineAnnealingLrUpdaterHook,
    annealing_cos,
)
from torch import nn

from ..utils.dist_utils import all_reduce_dict


def _last_phase_starts(runner, num_last_epochs):
    """Whether the epoch about to run is the first of the last ones."""
    return runner.epoch + 1 == runner.max_epochs - num_last_epochs


@HOOKS.register_module()
class YOLOXModeSwitchHook(Hook):
    """From ``max_epochs - num_last_epochs`` on: the training set skips
    the ``skip_type_keys`` transforms (Mosaic, RandomAffine, MixUp) and
    the head adds its L1 loss (``bbox_head.use_l1``).

    Args:
        num_last_epochs (int): epochs at the end without them.
        skip_type_keys (tuple[str]): transform types to skip.
    """

    def __init__(
        self,
        num_last_epochs=15,
        skip_type_keys=('Mosaic', 'RandomAffine', 'MixUp'),
    ):
        self.num_last_epochs = num_last_epochs
        self.skip_type_keys = skip_type_keys
        self._restart_dataloader = False

    def before_train_epoch(self, runner):
        loader = runner.data_loader
        model = runner.model
        if is_module_wrapper(model):
            model = model.module
        if not _last_phase_starts(runner, self.num_last_epochs):
            if self._restart_dataloader:
                loader._DataLoader__initialized = True
            return
        runner.logger.info('No mosaic and mixup aug now!')
        loader.dataset.update_skip_type_keys(self.skip_type_keys)
        if getattr(loader, 'persistent_workers', False) is True:
            # persistent workers hold copies of the old dataset: drop them
            loader._DataLoader__initialized = False
            loader._iterator = None
            self._restart_dataloader = True
        runner.logger.info('Add additional L1 loss now!')
        model.bbox_head.use_l1 = True


def get_norm_states(module):
    """OrderedDict of the state (weights and running statistics) of every
    batch-norm-like layer of ``module``, by full state-dict key."""
    states = OrderedDict()
    for name, child in module.named_modules():
        if isinstance(child, nn.modules.batchnorm._NormBase):
            for key, value in child.state_dict().items():
                states[f'{name}.{key}'] = value
    return states


@HOOKS.register_module()
class SyncNormHook(Hook):
    """Every ``interval`` epochs (every epoch in the last
    ``num_last_epochs``) replace each GPU's norm states with their mean
    over the GPUs, so that evaluation and checkpoints see one model."""

    def __init__(self, num_last_epochs=15, interval=1):
        self.interval = interval
        self.num_last_epochs = num_last_epochs

    def before_train_epoch(self, runner):
        if _last_phase_starts(runner, self.num_last_epochs):
            self.interval = 1

    def after_train_epoch(self, runner):
        if (runner.epoch + 1) % self.interval != 0:
            return
        if get_dist_info()[1] == 1:
            return
        states = get_norm_states(runner.model)
        if states:
            states = all_reduce_dict(states, op='mean')
            runner.model.load_state_dict(states, strict=False)


@HOOKS.register_module()
class YOLOXLrUpdaterHook(CosineAnnealingLrUpdaterHook):
    """The ``policy='YOLOX'`` schedule: a quadratic warmup
    (``warmup_ratio * ((i + 1) / warmup_iters) ** 2`` times the base lr),
    cosine annealing to the minimum, and the minimum for the last
    ``num_last_epochs`` epochs.

    Args:
        num_last_epochs (int): epochs at the minimum learning rate.
        **kwargs: :class:`CosineAnnealingLrUpdaterHook`'s arguments.
    """

    def __init__(self, num_last_epochs, **kwargs):
        self.num_last_epochs = num_last_epochs
        super().__init__(**kwargs)

    def get_warmup_lr(self, cur_iters):
        factor = self.warmup_ratio * ((cur_iters + 1) / self.warmup_iters) ** 2

        def scaled(base_lrs):
            return [lr * factor for lr in base_lrs]

        if isinstance(self.base_lr, dict):
            return {key: scaled(lrs) for key, lrs in self.base_lr.items()}
        return scaled(self.base_lr)

    def get_lr(self, runner, base_lr):
        # counted in iterations even when the schedule is by epoch, as
        # MMDetection does
        last_iters = len(runner.data_loader) * self.num_last_epochs
        if self.by_epoch:
            progress, max_progress = runner.epoch, runner.max_epochs
        else:
            progress, max_progress = runner.iter, runner.max_iters
        progress += 1
        if self.min_lr_ratio is not None:
            target_lr = base_lr * self.min_lr_ratio
        else:
            target_lr = self.min_lr
        if progress >= max_progress - last_iters:
            return target_lr
        return annealing_cos(
            base_lr,
            target_lr,
            (progress - self.warmup_iters)
            / (max_progress - self.warmup_iters - last_iters),
        )
