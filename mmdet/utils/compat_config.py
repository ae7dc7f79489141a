"""Bring configs written for older MMDetection 2.x releases up to date, as
MMDetection 2.28's ``compat_cfg`` does."""

import copy
import warnings

from mmcv import ConfigDict

from .arg_errors import InvalidArgumentError

SPLITS = ('train', 'val', 'test')


def compat_cfg(cfg):
    """A copy of ``cfg`` with ``runner`` and per-loader settings filled in.

    - ``total_epochs`` (MMDetection < 2.12) becomes ``runner``.
    - ``data.imgs_per_gpu`` (deprecated) sets ``data.samples_per_gpu``,
      winning over one given beside it (with a warning).
    - ``data.{train,val,test}_dataloader`` are created as MMDetection 2.x
      does: ``data.samples_per_gpu`` and ``persistent_workers`` move to the
      training loader, ``data.workers_per_gpu`` is copied to all three; a
      ``samples_per_gpu`` inside ``data.val`` / ``data.test`` moves to that
      split's loader (the largest of a list of test sets). A
      ``samples_per_gpu`` or ``persistent_workers`` set both at the data
      level and in the loader raises ``InvalidArgumentError`` (an
      ``AssertionError``, as MMDetection asserts it).
    """
    cfg = copy.deepcopy(cfg)
    compat_imgs_per_gpu(cfg)
    compat_loader_args(cfg)
    compat_runner_args(cfg)
    return cfg


def compat_runner_args(cfg):
    """``runner`` from a deprecated ``total_epochs`` (in place; returns
    ``cfg``); with both, they must agree (an ``AssertionError`` subclass
    otherwise, as MMDetection asserts)."""
    if 'runner' not in cfg:
        if 'total_epochs' in cfg:
            warnings.warn(
                'total_epochs is deprecated: use runner = dict('
                "type='EpochBasedRunner', max_epochs=...)"
            )
            cfg.runner = ConfigDict(
                type='EpochBasedRunner', max_epochs=cfg.total_epochs
            )
    elif 'total_epochs' in cfg and cfg.total_epochs != cfg.runner.get(
        'max_epochs'
    ):
        raise InvalidArgumentError(
            f'total_epochs={cfg.total_epochs} and runner.max_epochs='
            f'{cfg.runner.get("max_epochs")} disagree; remove total_epochs'
        )
    return cfg


def compat_imgs_per_gpu(cfg):
    """``data.samples_per_gpu`` from a deprecated ``data.imgs_per_gpu``
    (in place; returns ``cfg``)."""
    if 'data' not in cfg or 'imgs_per_gpu' not in cfg.data:
        return cfg
    data = cfg.data
    imgs = data.imgs_per_gpu
    if 'samples_per_gpu' in data:
        warnings.warn(
            f'"imgs_per_gpu" is deprecated; got imgs_per_gpu='
            f'{imgs} and samples_per_gpu={data.samples_per_gpu}: '
            f'imgs_per_gpu={imgs} is used. Set only '
            'samples_per_gpu.'
        )
    else:
        warnings.warn(
            '"imgs_per_gpu" is deprecated: use "samples_per_gpu" '
            f'(set to imgs_per_gpu={imgs} now).'
        )
    data.samples_per_gpu = imgs
    return cfg


def compat_loader_args(cfg):
    """``data.{train,val,test}_dataloader`` filled from the data-level
    settings (in place; returns ``cfg``), see ``compat_cfg``."""
    if 'data' in cfg:
        _compat_loaders(cfg.data)
    return cfg


def _both_set_error(key, outer, loader):
    return InvalidArgumentError(
        f'`{key}` is set both in `{outer}` and in `{loader}`; set it only '
        f'in `{loader}`.'
    )


def _compat_loaders(data):
    for split in SPLITS:
        if f'{split}_dataloader' not in data:
            data[f'{split}_dataloader'] = ConfigDict()
    train_loader = data.train_dataloader
    for key in ('samples_per_gpu', 'persistent_workers'):
        if key in data:
            if key in train_loader:
                raise _both_set_error(key, 'data', 'data.train_dataloader')
            train_loader[key] = data.pop(key)
    if 'workers_per_gpu' in data:
        workers = data.pop('workers_per_gpu')
        for split in SPLITS:
            data[f'{split}_dataloader']['workers_per_gpu'] = workers
    for split in ('val', 'test'):
        datasets = data.get(split)
        as_list = datasets if isinstance(datasets, list) else [datasets]
        given = [
            ds
            for ds in as_list
            if isinstance(ds, dict) and 'samples_per_gpu' in ds
        ]
        # a list of test sets always sets the loader's batch (1 by
        # default), as MMDetection does
        if not given and not (split == 'test' and isinstance(datasets, list)):
            continue
        loader = data[f'{split}_dataloader']
        if 'samples_per_gpu' in loader:
            if given:
                raise _both_set_error(
                    'samples_per_gpu',
                    f'data.{split}',
                    f'data.{split}_dataloader',
                )
            continue  # the loader's own setting stays
        loader['samples_per_gpu'] = max(
            ds.pop('samples_per_gpu', 1)
            for ds in as_list
            if isinstance(ds, dict)
        )
