"""Bring configs written for older MMDetection 2.x releases up to date."""
import copy
import warnings

from mmcv import ConfigDict


def compat_cfg(cfg):
    """A copy of ``cfg`` with ``runner`` and per-loader settings filled in.

    - ``total_epochs`` (MMDetection < 2.12) becomes ``runner``.
    - ``data.{train,val,test}_dataloader`` are created as MMDetection 2.x
      does: ``data.samples_per_gpu`` and ``persistent_workers`` configure the
      training loader, ``data.workers_per_gpu`` all three; a
      ``samples_per_gpu`` inside ``data.val`` / ``data.test`` moves to that
      split's loader. Keys already in a ``*_dataloader`` win.
    """
    cfg = copy.deepcopy(cfg)
    if 'runner' not in cfg and 'total_epochs' in cfg:
        warnings.warn('total_epochs is deprecated: use runner = dict('
                      "type='EpochBasedRunner', max_epochs=...)")
        cfg.runner = ConfigDict(
            type='EpochBasedRunner', max_epochs=cfg.total_epochs)
    if 'data' not in cfg:
        return cfg
    data = cfg.data
    loaders = {split: ConfigDict() for split in ('train', 'val', 'test')}
    for key in ('samples_per_gpu', 'persistent_workers'):
        if key in data:
            loaders['train'][key] = data.pop(key)
    if 'workers_per_gpu' in data:
        workers = data.pop('workers_per_gpu')
        for loader in loaders.values():
            loader['workers_per_gpu'] = workers
    for split in ('val', 'test'):
        datasets = data.get(split)
        for ds in (datasets if isinstance(datasets, list) else [datasets]):
            if isinstance(ds, dict) and 'samples_per_gpu' in ds:
                loaders[split]['samples_per_gpu'] = ds.pop('samples_per_gpu')
    for split, loader in loaders.items():
        loader.update(data.get(f'{split}_dataloader', {}))
        data[f'{split}_dataloader'] = loader
    return cfg
