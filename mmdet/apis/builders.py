"""The one way configs, test-mode detectors, test loaders and evaluation
arguments are assembled; every entry point (``tools/test.py``,
``init_detector``, the benchmark, the complexity counter, re-evaluation)
goes through these functions.
"""

import copy
from pathlib import Path

import mmcv
from mmcv import Config
from mmcv.cnn import fuse_conv_bn as fuse_conv_bn_layers
from mmcv.runner import wrap_fp16_model

from mmdet.apis.checkpoint import load_detector_checkpoint
from mmdet.apis.config_checks import check_config_values, warn_config_typos
from mmdet.datasets import (
    build_dataloader,
    build_dataset,
    replace_ImageToTensor,
)
from mmdet.models import build_detector
from mmdet.utils import (
    replace_cfg_vals,
    rfnext_init_model,
    update_data_root,
)
from mmdet.utils.arg_errors import InvalidArgumentError

__all__ = [
    'EVAL_HOOK_KEYS',
    'build_test_dataset',
    'build_test_detector',
    'build_test_loader',
    'eval_kwargs',
    'load_config',
]

# keys of `evaluation` that configure the hook, not dataset.evaluate
EVAL_HOOK_KEYS = (
    'interval',
    'tmpdir',
    'start',
    'gpu_collect',
    'save_best',
    'rule',
    'dynamic_intervals',
    'by_epoch',
)


def load_config(config, cfg_options=None, check=False):
    """The config of ``config`` with its ``${key}`` references replaced
    (``replace_cfg_vals``), its data moved to ``$MMDET_DATASETS`` when that
    is set (``update_data_root``) and ``cfg_options`` merged in. The one
    config loader of the project.

    Args:
        config (str | Path | mmcv.Config): a config file, or a Config
            (deep-copied: the caller's is never changed).
        cfg_options (dict, optional): ``--cfg-options`` overrides.
        check (bool): then check its values and warn about misspelled
            top-level keys (``mmdet.apis.config_checks``), as
            ``tools/train.py`` and ``tools/test.py`` do.

    Returns:
        mmcv.Config
    """
    if isinstance(config, (str, Path)):
        if not Path(config).is_file():
            raise FileNotFoundError(
                f'config file {str(config)!r} does not exist; configs live '
                'under configs/, e.g. configs/odconv/'
                'faster_rcnn_r50_fpn_1x_coco.py'
            )
        cfg = Config.fromfile(str(config))
    elif isinstance(config, Config):
        cfg = copy.deepcopy(config)
    else:
        raise TypeError(
            'config must be a file path or an mmcv.Config, got '
            f'{type(config).__name__}'
        )
    # as MMDetection's tools do: ${key} references, then $MMDET_DATASETS,
    # then the command line's overrides
    cfg = replace_cfg_vals(cfg)
    update_data_root(cfg)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if check:
        check_config_values(cfg, config)
        warn_config_typos(cfg, config)
    return cfg


def _strip_training_init(cfg):
    """Weights come from a checkpoint (or do not matter): no ImageNet
    initialisation and no training settings."""
    # only keys the config has: not every detector or backbone takes
    # ``pretrained`` (MaskFormer, CSPDarknet, ...)
    if 'pretrained' in cfg.model:
        cfg.model.pretrained = None
    if 'backbone' in cfg.model:
        if 'pretrained' in cfg.model.backbone:
            cfg.model.backbone.pretrained = None
        cfg.model.backbone.init_cfg = None
    cfg.model.train_cfg = None


def build_test_detector(cfg, checkpoint=None, fuse_conv_bn=False):
    """The detector of ``cfg`` in test mode, with ``checkpoint`` loaded.

    ``cfg.model`` is changed in place (no pretrained backbone, no
    ``train_cfg``). ``fp16`` in the config wraps the model for mixed
    precision. ``CLASSES`` is the checkpoint's (its ``meta``) when it has
    them, else left unset for the caller.

    Args:
        cfg (mmcv.Config): the config.
        checkpoint (str, optional): any form ``load_detector_checkpoint``
            reads (strictly); None keeps the initial weights.
        fuse_conv_bn (bool): fold BatchNorm into the preceding convs.

    Returns:
        tuple: ``(model, checkpoint_dict)`` (``{}`` without checkpoint);
        the model is on the CPU and in eval mode.
    """
    _strip_training_init(cfg)
    model = build_detector(cfg.model, test_cfg=cfg.get('test_cfg'))
    rfnext_init_model(model, cfg=cfg)  # with an RFSearchHook in the config
    if cfg.get('fp16', None) is not None:
        wrap_fp16_model(model)
    ckpt = {}
    if checkpoint is not None:
        ckpt = load_detector_checkpoint(model, checkpoint, map_location='cpu')
        meta = ckpt.get('meta')
        if isinstance(meta, dict) and 'CLASSES' in meta:
            model.CLASSES = meta['CLASSES']
    if fuse_conv_bn:
        model = fuse_conv_bn_layers(model)
    return model.eval(), ckpt


def build_test_dataset(cfg):
    """``data.test`` (one data set, or a list of them concatenated) in test
    mode; with batched test loaders (``test_dataloader.samples_per_gpu >
    1``) the pipelines' ``ImageToTensor`` becomes ``DefaultFormatBundle``.
    ``cfg.data.test`` is changed in place; ``cfg`` has been through
    ``compat_cfg``."""
    test_cfgs = (
        cfg.data.test if isinstance(cfg.data.test, list) else [cfg.data.test]
    )
    batched = cfg.data.get('test_dataloader', {}).get('samples_per_gpu', 1) > 1
    for ds_cfg in test_cfgs:
        ds_cfg.test_mode = True
        if batched:
            ds_cfg.pipeline = replace_ImageToTensor(ds_cfg.pipeline)
    return build_dataset(cfg.data.test)


def build_test_loader(cfg, dataset, distributed=False, **overrides):
    """The test loader of ``dataset``: one image per GPU, two workers, no
    shuffling, then ``data.test_dataloader``, then ``overrides``."""
    loader_cfg = dict(
        samples_per_gpu=1, workers_per_gpu=2, dist=distributed, shuffle=False
    )
    loader_cfg.update(cfg.data.get('test_dataloader', {}))
    loader_cfg.update(overrides)
    return build_dataloader(dataset, **loader_cfg)


def eval_kwargs(cfg, metric, eval_options=None):
    """Keyword arguments of ``dataset.evaluate``: the config's
    ``evaluation`` less the hook's own keys, then ``metric`` and
    ``eval_options`` (``--eval-options``)."""
    kwargs = {
        k: v
        for k, v in cfg.get('evaluation', {}).items()
        if k not in EVAL_HOOK_KEYS
    }
    kwargs.update(dict(metric=metric, **(eval_options or {})))
    return kwargs


def check_test_outputs(out, eval, format_only, show=False, show_dir=None):
    """Refuse a test run that would throw its results away or contradict
    itself (the checks of tools/test.py and tools/deployment/test.py)."""
    if not (out or eval or format_only or show or show_dir):
        raise InvalidArgumentError(
            'Say what to do with the results: --out, --eval, '
            '--format-only, --show or --show-dir'
        )
    if eval and format_only:
        raise InvalidArgumentError(
            '--eval and --format-only cannot be both given'
        )


def handle_test_outputs(
    cfg,
    dataset,
    outputs,
    out=None,
    eval=None,
    format_only=False,
    eval_options=None,
):
    """Write (``out``), format (``format_only``) and evaluate (``eval``)
    a test run's outputs as tools/test.py does; returns the metrics (None
    without ``eval``)."""
    if out:
        print(f'\nwriting results to {out}')
        mmcv.dump(outputs, out)
    if format_only:
        dataset.format_results(outputs, **(eval_options or {}))
    if not eval:
        return None
    metrics = dataset.evaluate(outputs, **eval_kwargs(cfg, eval, eval_options))
    print(metrics)
    return metrics
