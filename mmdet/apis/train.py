"""Training: seeds, learning-rate scaling and ``train_detector`` (resuming
and ``load_from`` are in ``mmdet.apis.checkpoint``)."""

import random

import numpy as np
import torch
import torch.distributed as dist
from mmcv.runner import (
    DistSamplerSeedHook,
    EpochBasedRunner,
    Fp16OptimizerHook,
    build_optimizer,
    build_runner,
    get_dist_info,
)

from mmdet.apis.checkpoint import load_initial_weights, resume_training
from mmdet.apis.test import multi_gpu_test, single_gpu_test
from mmdet.core import (
    CPUMemoryHook,
    DistEvalHook,
    EvalHook,
    FiniteCheckOptimizerHook,
    RNGStateHook,
)
from mmdet.datasets import (
    build_dataloader,
    build_dataset,
    replace_ImageToTensor,
)
from mmdet.utils import (
    build_ddp,
    build_dp,
    compat_cfg,
    find_latest_checkpoint,
    get_root_logger,
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
    """Evaluation of ``data.val`` during training; batches of several
    images (``val_dataloader.samples_per_gpu > 1``) need the pipeline's
    ``ImageToTensor`` replaced by ``DefaultFormatBundle``, as in
    MMDetection 2.28 (``cfg.data.val`` is changed in place)."""
    loader_cfg = dict(
        samples_per_gpu=1,
        workers_per_gpu=2,
        dist=distributed,
        shuffle=False,
        persistent_workers=False,
    )
    loader_cfg.update(cfg.data.get('val_dataloader', {}))
    if loader_cfg['samples_per_gpu'] > 1:
        cfg.data.val.pipeline = replace_ImageToTensor(cfg.data.val.pipeline)
    val_dataset = build_dataset(cfg.data.val, dict(test_mode=True))
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
