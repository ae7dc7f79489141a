"""Check that the heads predict as many classes as the data set has."""

from mmcv.runner import HOOKS, Hook


@HOOKS.register_module()
class NumClassCheckHook(Hook):
    """Fail early when a head's ``num_classes`` differs from the data set's.

    A config that trains on a subset of COCO (``classes=...``) but keeps
    ``num_classes=80`` trains without error and evaluates nonsense; this hook
    stops it before the first iteration with both numbers in the message.
    """

    def _check(self, runner, mode):
        model = runner.model
        model = getattr(model, 'module', model)
        dataset = runner.data_loader.dataset
        classes = getattr(dataset, 'CLASSES', None)
        if classes is None:
            runner.logger.warning(
                f'{type(dataset).__name__}.CLASSES is None: cannot check the '
                'number of classes of the heads'
            )
            return
        if isinstance(classes, str):
            raise TypeError(
                f'{type(dataset).__name__}.CLASSES is the string {classes!r}; '
                'write it as a tuple, e.g. classes=(\'person\', ) in the '
                'config'
            )
        for name, module in model.named_modules():
            num = getattr(module, 'num_classes', None)
            # the RPN is class-agnostic; a backbone's num_classes is ImageNet's
            if (
                num is None
                or name == ''
                or 'rpn' in name
                or name.startswith('backbone')
            ):
                continue
            if num != len(classes):
                raise ValueError(
                    f'The {mode} data set has {len(classes)} classes '
                    f'{tuple(classes)} but `{name}.num_classes` is {num}. '
                    'Set num_classes in the model config to match.'
                )

    def before_train_epoch(self, runner):
        self._check(runner, 'training')

    def before_val_epoch(self, runner):
        self._check(runner, 'validation')
