"""Training: seeds, learning-rate scaling, resuming, and
``train_detector``."""

import ast
import random
import re

import numpy as np
import torch
import torch.distributed as dist
from mmcv.parallel import is_module_wrapper
from mmcv.runner import (
    DistSamplerSeedHook,
    EpochBasedRunner,
    Fp16OptimizerHook,
    build_optimizer,
    build_runner,
    get_dist_info,
)

from mmdet.apis.test import multi_gpu_test, single_gpu_test
from mmdet.core import (
    RNG_META_KEY,
    CPUMemoryHook,
    DistEvalHook,
    EvalHook,
    FiniteCheckOptimizerHook,
    RNGStateHook,
    set_rng_state,
)
from mmdet.datasets import build_dataloader, build_dataset
from mmdet.utils import (
    build_ddp,
    build_dp,
    compat_cfg,
    find_latest_checkpoint,
    get_root_logger,
)
from mmdet.utils.checkpoint_reader import read_checkpoint
from mmdet.utils.state_dict import (
    CheckpointMismatchError,
    checkpoint_state_dict,
    compare_state_dicts,
    load_state_dict_checked,
    mismatch_report,
)


def init_random_seed(seed=None, device='cuda'):
    """``seed``, or a random one drawn on rank 0 and shared with all ranks.

    Every process must use the same seed, or the distributed samplers would
    shuffle differently on each rank.
    """
    if seed is not None:
        return seed
    seed = np.random.randint(2**31)
    rank, world_size = get_dist_info()
    if world_size > 1:
        box = [seed if rank == 0 else None]
        dist.broadcast_object_list(box, src=0)
        seed = box[0]
    return int(seed)


def set_random_seed(seed, deterministic=False):
    """Seed Python, numpy and torch (all devices).

    ``deterministic=True`` also makes cuDNN deterministic (slower).
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    if deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def auto_scale_lr(cfg, distributed, logger):
    """Scale ``cfg.optimizer.lr`` linearly with the total batch size.

    Active when ``cfg.auto_scale_lr.enable`` is true (``--auto-scale-lr``);
    the config's lr is for ``auto_scale_lr.base_batch_size`` images per step.
    """
    scale_cfg = cfg.get('auto_scale_lr')
    if not scale_cfg or not scale_cfg.get('enable', False):
        logger.info(
            'Automatic scaling of learning rate (LR) has been disabled.'
        )
        return
    if 'base_batch_size' not in scale_cfg:
        raise KeyError(
            'auto_scale_lr needs base_batch_size: the total batch '
            'size the config learning rate was set for'
        )
    num_gpus = get_dist_info()[1] if distributed else len(cfg.gpu_ids)
    samples_per_gpu = cfg.data.train_dataloader.samples_per_gpu
    batch_size = num_gpus * samples_per_gpu
    base = scale_cfg.base_batch_size
    logger.info(
        f'Training with {num_gpus} GPU(s) with {samples_per_gpu} '
        f'samples per GPU. The total batch size is {batch_size}.'
    )
    if batch_size != base:
        scaled = cfg.optimizer.lr * batch_size / base
        logger.info(
            f'LR has been automatically scaled from '
            f'{cfg.optimizer.lr} to {scaled}'
        )
        cfg.optimizer.lr = scaled
    else:
        logger.info(
            'The batch size match the base batch size: '
            f'{base}, will not scaling the LR ({cfg.optimizer.lr}).'
        )


RESUME_HINT = (
    'Resume with the config the checkpoint was trained with '
    '(the work dir holds a copy).'
)
LOAD_FROM_HINT = (
    'load_from must hold weights of this model (the same '
    'detector, backbone and necks); layers whose shape differs '
    '(e.g. the classifier after changing num_classes) are '
    'left at their initial values.'
)


class ResumeError(RuntimeError):
    """A checkpoint that a run cannot continue from."""


def _training_state_problem(checkpoint):
    """What a checkpoint lacks to be resumed from ('' if nothing)."""
    meta = checkpoint.get('meta')
    lacking = []
    if 'state_dict' not in checkpoint:
        return 'it is a bare state dict: weights only'
    if not isinstance(meta, dict) or not {'epoch', 'iter'} <= set(meta):
        lacking.append('the epoch and iteration (meta)')
    if 'optimizer' not in checkpoint:
        lacking.append('the optimizer state')
    return f'it lacks {" and ".join(lacking)}' if lacking else ''


def _previous_world_size(meta):
    """The number of GPUs of the run that saved ``meta``, read from its
    config text without executing it (None if unknown)."""
    match = re.search(
        r'^gpu_ids = (\[[^\]]*\]|range\(.*\))$', meta.get('config', ''), re.M
    )
    if not match:
        return None
    text = match.group(1)
    if text.startswith('range('):
        return len(range(*ast.literal_eval(text[5:])))
    return len(ast.literal_eval(text)) or None


def resume_training(runner, filename):
    """Continue a run from ``filename``: weights (strictly), epoch,
    iteration, optimizer, hook messages and random generator states.

    mmcv's ``runner.resume`` with the project's checkpoint reader and
    mismatch report, a clear error for a checkpoint without training state,
    and no execution of the config text stored in the checkpoint.

    Raises:
        ResumeError: the checkpoint holds no training state.
        CheckpointMismatchError: its weights do not fit the model.
    """
    checkpoint = read_checkpoint(filename, map_location='cpu')
    problem = _training_state_problem(checkpoint)
    if problem:
        raise ResumeError(
            f'cannot resume from {filename!r}: {problem}, so there is no '
            'training state to continue. To start a new run from its '
            f'weights, use load_from instead: --cfg-options '
            f'load_from={filename} (without --resume-from or --auto-resume).'
        )
    model = (
        runner.model.module
        if is_module_wrapper(runner.model)
        else runner.model
    )
    load_state_dict_checked(
        model,
        checkpoint_state_dict(checkpoint),
        repr(filename),
        strict=True,
        hint=RESUME_HINT,
    )
    meta = dict(checkpoint['meta'])
    runner._epoch = meta['epoch']
    runner._iter = meta['iter']
    previous = _previous_world_size(meta)
    if previous and previous != runner.world_size:
        runner._iter = int(runner._iter * previous / runner.world_size)
        runner.logger.info(
            'the iteration number is changed due to change of GPU number'
        )
    rng_state = meta.pop(RNG_META_KEY, None)
    hook_msgs = dict((runner.meta or {}).get('hook_msgs', {}))
    hook_msgs.update(meta.get('hook_msgs', {}))
    meta['hook_msgs'] = hook_msgs
    runner.meta = meta
    optimizers = (
        runner.optimizer
        if isinstance(runner.optimizer, dict)
        else {None: runner.optimizer}
    )
    for name, optimizer in optimizers.items():
        state = checkpoint['optimizer']
        optimizer.load_state_dict(state if name is None else state[name])
    if rng_state is not None:
        set_rng_state(rng_state)
    else:
        runner.logger.warning(
            f'{filename} holds no random generator state (saved by an older '
            'version): the resumed run draws different random numbers than '
            'the uninterrupted run would have.'
        )
    runner.logger.info('resumed epoch %d, iter %d', runner.epoch, runner.iter)


def load_initial_weights(model, filename, logger):
    """``load_from``: start a new run from the weights of ``filename``.

    Keys missing from the checkpoint or unknown to the model are an error
    (the report of ``tools/test.py``); layers whose shape differs are
    reported as a warning and keep their initial values (fine-tuning with
    another number of classes, as MMDetection allows).
    """
    checkpoint = read_checkpoint(filename, map_location='cpu')
    if is_module_wrapper(model):
        model = model.module
    state_dict = checkpoint_state_dict(checkpoint)
    missing, unexpected, _ = compare_state_dicts(
        model.state_dict(), state_dict
    )
    if missing or unexpected:
        raise CheckpointMismatchError(
            mismatch_report(
                f'load_from = {filename!r}',
                missing,
                unexpected,
                [],
                LOAD_FROM_HINT,
            )
        )
    load_state_dict_checked(
        model,
        state_dict,
        f'load_from = {filename!r}',
        strict=False,
        logger=logger,
        hint=LOAD_FROM_HINT,
    )
    logger.info(f'load_from: weights loaded from {filename}')


def _optimizer_hook(cfg, distributed):
    """The optimizer hook config/object from ``optimizer_config`` and
    ``fp16`` (mmcv's ``Fp16OptimizerHook`` for mixed precision, whose loss
    scaler skips overflowing steps itself).

    The plain ``OptimizerHook`` (no ``type``, or ``type='OptimizerHook'``)
    becomes ``FiniteCheckOptimizerHook``: a non-finite loss or gradient norm
    stops the run, or is skipped up to ``skip_nonfinite_steps`` times.
    """
    fp16_cfg = cfg.get('fp16', None)
    optimizer_config = dict(cfg.get('optimizer_config', {}) or {})
    if fp16_cfg is not None:
        return Fp16OptimizerHook(
            **optimizer_config, **fp16_cfg, distributed=distributed
        )
    if optimizer_config.get('type', 'OptimizerHook') == 'OptimizerHook':
        optimizer_config.pop('type', None)
        return FiniteCheckOptimizerHook(
            **optimizer_config, max_skips=cfg.get('skip_nonfinite_steps', 0)
        )
    return optimizer_config


def _checkpoint_hook(checkpoint_config):
    """``checkpoint_config`` with ``AtomicCheckpointHook`` as the default
    type: a run killed while saving never leaves half a ``.pth``."""
    if not isinstance(checkpoint_config, dict):
        return checkpoint_config
    return dict(dict(type='AtomicCheckpointHook'), **checkpoint_config)


def _build_train_loaders(dataset, cfg, distributed, runner_type):
    datasets = dataset if isinstance(dataset, (list, tuple)) else [dataset]
    loader_cfg = dict(
        samples_per_gpu=2,
        workers_per_gpu=2,
        num_gpus=len(cfg.gpu_ids),
        dist=distributed,
        seed=cfg.seed,
        runner_type=runner_type,
        persistent_workers=False,
    )
    loader_cfg.update(cfg.data.get('train_dataloader', {}))
    return [build_dataloader(ds, **loader_cfg) for ds in datasets]


def _register_eval_hook(runner, cfg, distributed):
    val_dataset = build_dataset(cfg.data.val, dict(test_mode=True))
    loader_cfg = dict(
        samples_per_gpu=1,
        workers_per_gpu=2,
        dist=distributed,
        shuffle=False,
        persistent_workers=False,
    )
    loader_cfg.update(cfg.data.get('val_dataloader', {}))
    val_loader = build_dataloader(val_dataset, **loader_cfg)
    eval_cfg = dict(cfg.get('evaluation', {}))
    eval_cfg['by_epoch'] = cfg.runner['type'] != 'IterBasedRunner'
    if distributed:
        hook = DistEvalHook(val_loader, test_fn=multi_gpu_test, **eval_cfg)
    else:
        hook = EvalHook(val_loader, test_fn=single_gpu_test, **eval_cfg)
    # LOW priority: evaluate after the checkpoint of the epoch is saved
    runner.register_hook(hook, priority='LOW')


def train_detector(
    model,
    dataset,
    cfg,
    distributed=False,
    validate=False,
    timestamp=None,
    meta=None,
):
    """Train ``model`` on ``dataset`` as ``cfg`` says (MMDetection 2.x API).

    Builds the data loaders, wraps the model (``MMDataParallel`` or
    ``MMDistributedDataParallel`` with the config's
    ``find_unused_parameters``), the optimizer, the runner (``runner.type``)
    and its hooks (lr, optimizer/fp16, checkpoint, timer, logger, custom
    hooks, evaluation when ``validate``), then resumes (``resume_from`` or,
    with ``auto_resume``, the newest checkpoint of the work dir) or loads
    ``load_from``, and runs ``cfg.workflow``.
    """
    cfg = compat_cfg(cfg)
    logger = get_root_logger(log_level=cfg.log_level)

    runner_type = cfg.runner['type']
    data_loaders = _build_train_loaders(dataset, cfg, distributed, runner_type)

    if distributed:
        model = build_ddp(
            model,
            cfg.device,
            device_ids=[torch.cuda.current_device()]
            if cfg.device == 'cuda'
            else None,
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False),
        )
    else:
        model = build_dp(model, cfg.device, device_ids=cfg.gpu_ids)

    auto_scale_lr(cfg, distributed, logger)
    optimizer = build_optimizer(model, cfg.optimizer)
    runner = build_runner(
        cfg.runner,
        default_args=dict(
            model=model,
            optimizer=optimizer,
            work_dir=cfg.work_dir,
            logger=logger,
            meta=meta,
        ),
    )
    runner.timestamp = timestamp

    runner.register_training_hooks(
        cfg.lr_config,
        _optimizer_hook(cfg, distributed),
        _checkpoint_hook(cfg.checkpoint_config),
        cfg.log_config,
        cfg.get('momentum_config', None),
        custom_hooks_config=cfg.get('custom_hooks', None),
    )
    if distributed and isinstance(runner, EpochBasedRunner):
        runner.register_hook(DistSamplerSeedHook())
    if cfg.device == 'cpu':
        runner.register_hook(CPUMemoryHook(), priority='LOW')
    # before the checkpoint hook: each checkpoint carries the RNG state
    runner.register_hook(RNGStateHook(), priority='ABOVE_NORMAL')
    if validate:
        _register_eval_hook(runner, cfg, distributed)

    resume_from = cfg.get('resume_from')
    if resume_from is None and cfg.get('auto_resume'):
        resume_from = find_latest_checkpoint(cfg.work_dir)
        if resume_from:
            logger.info(f'auto-resume: continuing from {resume_from}')
    if resume_from:
        resume_training(runner, resume_from)
    elif cfg.get('load_from'):
        load_initial_weights(runner.model, cfg.load_from, logger)
    runner.run(data_loaders, cfg.workflow)
    return runner
