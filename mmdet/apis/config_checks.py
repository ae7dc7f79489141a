"""Checks ``tools/train.py`` and ``tools/test.py`` run before any work.

A config mistake should stop a run at once, naming the key and the fix,
not after an epoch of training or a whole inference pass:

* ``check_config_values``: numbers given as strings (``lr='0.02'``);
* ``warn_config_typos``: a top-level key one typo away from a known one
  (``optimzer``) is a warning with the suggestion (configs may define
  their own variables, so unknown keys alone are not errors);
* ``check_eval_settings``: metric names and ``evaluation`` /
  ``--eval-options`` keys against what the data set's ``evaluate`` takes;
* ``check_attention_batch``: ODConv attention BatchNorm in training mode
  with one sample per GPU;
* ``check_finite_weights``: a checkpoint holding NaN or Inf weights.
"""

import difflib
import inspect
import warnings

import torch
from mmcv import Config
from mmcv.runner import DistEvalHook, EvalHook

from mmdet.datasets import DATASETS, CocoDataset
from mmdet.models.backbones.odconv import ODConvAttention

# the top-level keys of MMDetection 2.x configs (and of this toolbox)
KNOWN_TOP_LEVEL_KEYS = (
    'model',
    'data',
    'optimizer',
    'optimizer_config',
    'lr_config',
    'momentum_config',
    'runner',
    'total_epochs',
    'checkpoint_config',
    'log_config',
    'evaluation',
    'custom_hooks',
    'custom_imports',
    'dist_params',
    'log_level',
    'load_from',
    'resume_from',
    'workflow',
    'opencv_num_threads',
    'mp_start_method',
    'auto_scale_lr',
    'fp16',
    'work_dir',
    'gpu_ids',
    'seed',
    'device',
    'find_unused_parameters',
    'cudnn_benchmark',
    'auto_resume',
    'dataset_type',
    'data_root',
    'img_norm_cfg',
    'train_pipeline',
    'test_pipeline',
    'classes',
    'torch_num_threads',
    'skip_nonfinite_steps',
    'norm_cfg',
    'img_scale',
)

INT, FLOAT = 'an integer', 'a number'
# dotted key -> what it must hold (absent or None keys are not checked)
NUMERIC_KEYS = {
    'optimizer.lr': FLOAT,
    'optimizer.momentum': FLOAT,
    'optimizer.weight_decay': FLOAT,
    'optimizer_config.grad_clip.max_norm': FLOAT,
    'optimizer_config.grad_clip.norm_type': FLOAT,
    'lr_config.warmup_iters': INT,
    'lr_config.warmup_ratio': FLOAT,
    'lr_config.gamma': FLOAT,
    'lr_config.min_lr': FLOAT,
    'lr_config.min_lr_ratio': FLOAT,
    'lr_config.step': INT,
    'runner.max_epochs': INT,
    'runner.max_iters': INT,
    'total_epochs': INT,
    'checkpoint_config.interval': INT,
    'checkpoint_config.max_keep_ckpts': INT,
    'log_config.interval': INT,
    'evaluation.interval': INT,
    'evaluation.start': INT,
    'auto_scale_lr.base_batch_size': INT,
    'skip_nonfinite_steps': INT,
    'torch_num_threads': INT,
    'seed': INT,
}
for _prefix in (
    'data',
    'data.train_dataloader',
    'data.val_dataloader',
    'data.test_dataloader',
):
    NUMERIC_KEYS[f'{_prefix}.samples_per_gpu'] = INT
    NUMERIC_KEYS[f'{_prefix}.workers_per_gpu'] = INT

# evaluation keys the hooks take (the rest goes to dataset.evaluate)
_HOOK_ONLY = ('dataloader', 'self', 'test_fn')


def _lookup(cfg, dotted):
    node = cfg
    for part in dotted.split('.'):
        if not isinstance(node, (dict, Config)) or part not in node:
            return None
        node = node[part]
    return node


def _value_error(key, value, kind, source):
    hint = ''
    if isinstance(value, str):
        try:
            float(value)
            hint = (
                f' Write it without quotes: {key}={value.strip()} '
                f'(or `{key.split(".")[-1]}={value.strip()}` in the '
                'config file).'
            )
        except ValueError:
            pass
    return TypeError(
        f'{key} = {value!r} in {source}: must be {kind}, not '
        f'a {type(value).__name__}.{hint}'
    )


def _check_number(key, value, kind, source):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok and kind == INT and isinstance(value, float):
        ok = value.is_integer()
    if not ok:
        raise _value_error(key, value, kind, source)


def check_config_values(cfg, source):
    """Raise ``TypeError`` naming the key when a numeric setting holds
    something else (e.g. ``optimizer.lr='0.02'``, ``samples_per_gpu=
    'two'``); ``source`` names the config in the message."""
    for key, kind in NUMERIC_KEYS.items():
        value = _lookup(cfg, key)
        if value is None:
            continue
        values = (
            value
            if isinstance(value, (list, tuple)) and key == 'lr_config.step'
            else [value]
        )
        for item in values:
            _check_number(key, item, kind, source)


def warn_config_typos(cfg, source):
    """Warn about top-level keys that look like a misspelt known key."""
    for key in cfg.keys():
        if key in KNOWN_TOP_LEVEL_KEYS or key.startswith('_'):
            continue
        close = difflib.get_close_matches(
            key, KNOWN_TOP_LEVEL_KEYS, n=1, cutoff=0.8
        )
        if close:
            warnings.warn(
                f'{source}: top-level key {key!r} is not a known setting and '
                f'is not used; did you mean {close[0]!r}?',
                stacklevel=2,
            )


def _unknown_key_error(what, key, allowed, source):
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    hint = f' Did you mean {close[0]!r}?' if close else ''
    return ValueError(
        f'{what} {key!r} ({source}) is not a setting of the evaluation.'
        f'{hint} Known: {", ".join(sorted(allowed))}.'
    )


def _params(func):
    """Named parameters of ``func``, or None when it takes ``**kwargs``."""
    params = inspect.signature(func).parameters
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return None
    return [name for name in params if name not in ('self', 'results')]


def dataset_class(dataset_cfg):
    """The registered class of a data set config (first of a list;
    the inner data set of a wrapper)."""
    if isinstance(dataset_cfg, (list, tuple)):
        dataset_cfg = dataset_cfg[0]
    while 'dataset' in dataset_cfg and 'type' in dataset_cfg.get(
        'dataset', {}
    ):
        dataset_cfg = dataset_cfg['dataset']
    return DATASETS.get(dataset_cfg.get('type', ''))


def _metric_names(cls):
    if cls is not None and issubclass(cls, CocoDataset):
        return ['bbox', 'segm', 'proposal', 'proposal_fast']
    return None


def check_metrics(metrics, cls, source):
    """Raise ``ValueError`` for a metric the data set cannot compute."""
    allowed = _metric_names(cls)
    if allowed is None or metrics is None:
        return
    for metric in metrics if isinstance(metrics, (list, tuple)) else [metrics]:
        if metric not in allowed:
            close = difflib.get_close_matches(str(metric), allowed, n=1)
            hint = f' Did you mean {close[0]!r}?' if close else ''
            raise ValueError(
                f'metric {metric!r} ({source}) is not one {cls.__name__} '
                f'computes.{hint} Choose from {", ".join(allowed)}.'
            )


def check_eval_settings(
    cfg, dataset_cfg, hook_keys=(), eval_options=None, metrics=None
):
    """Check metrics and evaluation keys before any work starts.

    Args:
        cfg (Config): holds ``evaluation``.
        dataset_cfg (dict | list): the data set that will be evaluated.
        hook_keys (Sequence[str]): ``evaluation`` keys consumed before
            ``evaluate`` (the hook's own arguments at training time).
        eval_options (dict, optional): ``--eval-options``.
        metrics (list[str], optional): ``--eval``.
    """
    cls = dataset_class(dataset_cfg)
    if cls is None:
        return
    evaluate_keys = _params(cls.evaluate)
    format_keys = _params(cls.format_results) or []
    evaluation = dict(cfg.get('evaluation', {}) or {})
    if evaluate_keys is not None:
        allowed = set(evaluate_keys) | set(hook_keys)
        for key in evaluation:
            if key not in allowed:
                raise _unknown_key_error(
                    'evaluation key',
                    key,
                    allowed,
                    f'`evaluation` in {cfg.filename}',
                )
        allowed = set(evaluate_keys) | set(format_keys)
        for key in eval_options or {}:
            if key not in allowed:
                raise _unknown_key_error(
                    '--eval-options key', key, allowed, 'command line'
                )
    check_metrics(
        evaluation.get('metric'), cls, f'evaluation.metric in {cfg.filename}'
    )
    check_metrics(metrics, cls, '--eval')


def eval_hook_keys(distributed):
    """The ``evaluation`` keys the training-time eval hook takes itself."""
    hook = DistEvalHook if distributed else EvalHook
    return [
        k
        for k in inspect.signature(hook.__init__).parameters
        if k not in _HOOK_ONLY and k != 'eval_kwargs'
    ]


def check_attention_batch(model, samples_per_gpu):
    """Refuse one sample per GPU when an ODConv attention trains its
    BatchNorm: it normalises each sample's pooled vector over the batch,
    which needs two samples at least."""
    if samples_per_gpu is None or samples_per_gpu >= 2:
        return
    was_training = model.training
    model.train()  # the backbone's norm_eval decides what trains
    names = [
        name
        for name, m in model.named_modules()
        if isinstance(m, ODConvAttention) and m.bn.training
    ]
    model.train(was_training)
    if names:
        raise ValueError(
            f'data.samples_per_gpu = {samples_per_gpu}, but the ODConv '
            f'attention BatchNorm trains ({len(names)} layers, e.g. '
            f'{names[0]}.bn): it normalises the pooled vector of each '
            'sample over the batch on each GPU, which needs at least 2 '
            'samples. Use data.samples_per_gpu=2 or more, or freeze the '
            'BatchNorm statistics with model.backbone.norm_eval=True (as the '
            'released configs do, starting from ImageNet weights).'
        )


def check_finite_weights(state_dict, source):
    """Raise ``ValueError`` when weights hold NaN or Inf (a checkpoint of a
    run that diverged), naming ``source`` and the first such tensors."""
    bad = [
        key
        for key, value in state_dict.items()
        if torch.is_tensor(value)
        and value.is_floating_point()
        and not torch.isfinite(value).all()
    ]
    if bad:
        listed = ', '.join(bad[:5]) + (', ...' if len(bad) > 5 else '')
        raise ValueError(
            f'checkpoint {source} holds NaN or Inf weights in {len(bad)} of '
            f'{len(state_dict)} tensors ({listed}): it was saved by a '
            'training run that diverged. Use an earlier checkpoint of that '
            'run, or retrain (see docs/faq.md).'
        )
