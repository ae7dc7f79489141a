"""What ``tools/train.py`` and ``tools/test.py`` do with their parsed flags.

The command-line scripts only parse arguments (MMDetection 2.x's flags) and
call ``train_from_config`` / ``test_from_config``; everything else, from
reading the config to writing results, lives here where it can be tested.
"""

import copy
import os
import os.path as osp
import time

import mmcv
import torch
from mmcv.runner import get_dist_info

from mmdet import __version__
from mmdet.apis.builders import (
    EVAL_HOOK_KEYS,
    build_test_dataset,
    build_test_detector,
    build_test_loader,
    check_test_outputs,
    handle_test_outputs,
    load_config,
)
from mmdet.apis.config_checks import (
    check_attention_batch,
    check_eval_settings,
    check_finite_weights,
    eval_hook_keys,
)
from mmdet.apis.test import multi_gpu_test, single_gpu_test
from mmdet.apis.train import init_random_seed, set_random_seed, train_detector
from mmdet.datasets import build_dataset
from mmdet.models import build_detector
from mmdet.utils import (
    build_ddp,
    build_dp,
    collect_env,
    compat_cfg,
    get_device,
    get_root_logger,
    init_dist,
    remove_stale_tmp_files,
    rfnext_init_model,
    setup_multi_processes,
)
from mmdet.utils.state_dict import checkpoint_state_dict

PRETRAINED_HELP = """\
The ImageNet weights for the backbone are not at {path!r}
(`{key}` in {config}).
  * Put the ImageNet-trained backbone there (docs/get_started.md,
    "Pretrained backbones", lists the files and where to get them), or
  * point the config at your copy:
        --cfg-options {key}=/path/to/weights.pth
  * or train from scratch instead (needs a much longer schedule):
        --cfg-options {key}=None"""


def _is_local_path(path):
    return isinstance(path, str) and '://' not in path


def check_train_inputs(cfg, config_path):
    """Fail before anything heavy is built when a file the run needs is
    missing: the backbone's ImageNet weights, ``load_from``,
    ``resume_from``."""
    candidates = [('model.pretrained', cfg.model.get('pretrained'))]
    backbone = cfg.model.get('backbone', {})
    candidates.append(
        ('model.backbone.pretrained', backbone.get('pretrained'))
    )
    init_cfg = backbone.get('init_cfg') or {}
    # PVT's configs name the checkpoint without type='Pretrained'
    if isinstance(init_cfg, dict) and init_cfg.get('type', 'Pretrained') == (
        'Pretrained'
    ):
        candidates.append(
            ('model.backbone.init_cfg.checkpoint', init_cfg.get('checkpoint'))
        )
    for key, path in candidates:
        if _is_local_path(path) and not osp.isfile(path):
            raise FileNotFoundError(
                PRETRAINED_HELP.format(path=path, key=key, config=config_path)
            )
    for key in ('load_from', 'resume_from'):
        path = cfg.get(key)
        if _is_local_path(path) and not osp.isfile(path):
            raise FileNotFoundError(
                f'{key} = {path!r}: no such checkpoint file. Check the path '
                f'or drop {key}.'
            )


def _init_launcher(cfg, launcher, gpu_id):
    """Start torch.distributed when launched; return ``distributed``."""
    if launcher == 'none':
        cfg.gpu_ids = [gpu_id]
        return False
    init_dist(launcher, **cfg.get('dist_params', {}))
    cfg.gpu_ids = list(range(get_dist_info()[1]))
    return True


def _work_dir(cfg, config, work_dir):
    if work_dir is not None:
        return work_dir
    if cfg.get('work_dir') is not None:
        return cfg.work_dir
    return osp.join('./work_dirs', osp.splitext(osp.basename(config))[0])


def train_from_config(
    config,
    work_dir=None,
    resume_from=None,
    auto_resume=False,
    no_validate=False,
    gpu_id=0,
    seed=None,
    diff_seed=False,
    deterministic=False,
    cfg_options=None,
    launcher='none',
    auto_scale_lr=False,
):
    """Train the detector of ``config``; the arguments are tools/train.py's
    flags. Returns the mmcv runner after training."""
    cfg = load_config(config, cfg_options, check=True)
    if auto_scale_lr:
        if (
            'auto_scale_lr' not in cfg
            or 'base_batch_size' not in cfg.auto_scale_lr
        ):
            raise KeyError(
                '--auto-scale-lr needs `auto_scale_lr = dict('
                'base_batch_size=...)` in the config'
            )
        cfg.auto_scale_lr.enable = True
    setup_multi_processes(cfg)
    if cfg.get('cudnn_benchmark', False):
        torch.backends.cudnn.benchmark = True
    cfg.work_dir = _work_dir(cfg, config, work_dir)
    if resume_from is not None:
        cfg.resume_from = resume_from
    cfg.auto_resume = auto_resume
    check_train_inputs(cfg, config)
    if cfg.data.get('val') is not None:
        check_eval_settings(
            cfg,
            cfg.data.val,
            hook_keys=set(eval_hook_keys(False)) | set(eval_hook_keys(True)),
        )
    distributed = _init_launcher(cfg, launcher, gpu_id)

    mmcv.mkdir_or_exist(osp.abspath(cfg.work_dir))
    cfg.dump(osp.join(cfg.work_dir, osp.basename(config)))
    timestamp = time.strftime('%Y%m%d_%H%M%S', time.localtime())
    log_file = osp.join(cfg.work_dir, f'{timestamp}.log')
    logger = get_root_logger(log_file=log_file, log_level=cfg.log_level)
    if get_dist_info()[0] == 0:
        for path in remove_stale_tmp_files(cfg.work_dir):
            logger.info(f'removed {path}, left by an interrupted save')

    env_info = '\n'.join(f'{k}: {v}' for k, v in collect_env().items())
    dash_line = '-' * 60 + '\n'
    logger.info(
        'Environment info:\n' + dash_line + env_info + '\n' + dash_line
    )
    meta = dict(env_info=env_info, config=cfg.pretty_text)
    logger.info(f'Distributed training: {distributed}')
    logger.info(f'Config:\n{cfg.pretty_text}')

    cfg.device = get_device()
    seed = init_random_seed(seed, device=cfg.device)
    if diff_seed:
        seed += get_dist_info()[0]
    logger.info(f'Set random seed to {seed}, deterministic: {deterministic}')
    set_random_seed(seed, deterministic=deterministic)
    cfg.seed = seed
    meta['seed'] = seed
    meta['exp_name'] = osp.basename(config)

    model = build_detector(
        cfg.model, train_cfg=cfg.get('train_cfg'), test_cfg=cfg.get('test_cfg')
    )
    model.init_weights()
    # RF-Next, when the config has an RFSearchHook (as MMDetection's tools)
    rfnext_init_model(model, cfg=cfg)
    check_attention_batch(
        model, compat_cfg(cfg).data.train_dataloader.get('samples_per_gpu', 2)
    )

    datasets = [build_dataset(cfg.data.train)]
    if len(cfg.workflow) == 2:
        val_cfg = copy.deepcopy(cfg.data.val)
        val_cfg.pipeline = cfg.data.train.get(
            'pipeline', cfg.data.train.get('dataset', {}).get('pipeline')
        )
        datasets.append(build_dataset(val_cfg))
    if cfg.checkpoint_config is not None:
        cfg.checkpoint_config.meta = dict(
            mmdet_version=__version__, CLASSES=datasets[0].CLASSES
        )
    model.CLASSES = datasets[0].CLASSES
    return train_detector(
        model,
        datasets,
        cfg,
        distributed=distributed,
        validate=not no_validate,
        timestamp=timestamp,
        meta=meta,
    )


def test_from_config(
    config,
    checkpoint,
    out=None,
    eval=None,
    format_only=False,
    show=False,
    show_dir=None,
    show_score_thr=0.3,
    gpu_collect=False,
    tmpdir=None,
    cfg_options=None,
    eval_options=None,
    launcher='none',
    fuse_conv_bn=False,
    work_dir=None,
    gpu_id=0,
):
    """Test a checkpoint; the arguments are tools/test.py's flags.

    Returns ``(outputs, metrics)`` on rank 0 (``metrics`` is None without
    ``eval``) and ``(None, None)`` on the other ranks.
    """
    check_test_outputs(out, eval, format_only, show, show_dir)
    if out is not None and not out.endswith(('.pkl', '.pickle')):
        raise ValueError(f'--out must be a .pkl/.pickle file, got {out!r}')

    cfg = compat_cfg(load_config(config, cfg_options, check=True))
    if eval or format_only:
        check_eval_settings(
            cfg,
            cfg.data.test,
            hook_keys=EVAL_HOOK_KEYS,
            eval_options=eval_options,
            metrics=eval,
        )
    setup_multi_processes(cfg)
    if cfg.get('cudnn_benchmark', False):
        torch.backends.cudnn.benchmark = True
    cfg.device = get_device()
    distributed = _init_launcher(cfg, launcher, gpu_id)
    rank, _ = get_dist_info()

    json_file = None
    if work_dir is not None and rank == 0:
        mmcv.mkdir_or_exist(osp.abspath(work_dir))
        timestamp = time.strftime('%Y%m%d_%H%M%S', time.localtime())
        json_file = osp.join(work_dir, f'eval_{timestamp}.json')

    dataset = build_test_dataset(cfg)
    data_loader = build_test_loader(cfg, dataset, distributed)
    model, ckpt = build_test_detector(cfg, checkpoint, fuse_conv_bn)
    check_finite_weights(checkpoint_state_dict(ckpt), repr(checkpoint))
    if getattr(model, 'CLASSES', None) is None:
        model.CLASSES = dataset.CLASSES

    if not distributed:
        model = build_dp(model, cfg.device, device_ids=cfg.gpu_ids)
        outputs = single_gpu_test(
            model, data_loader, show, show_dir, show_score_thr
        )
    else:
        model = build_ddp(
            model,
            cfg.device,
            device_ids=[int(os.environ.get('LOCAL_RANK', 0))],
            broadcast_buffers=False,
        )
        gpu_collect = gpu_collect or cfg.get('evaluation', {}).get(
            'gpu_collect', False
        )
        outputs = multi_gpu_test(model, data_loader, tmpdir, gpu_collect)

    if rank != 0:
        return None, None
    metrics = handle_test_outputs(
        cfg, dataset, outputs, out, eval, format_only, eval_options
    )
    if metrics is not None and json_file is not None:
        mmcv.dump(dict(config=config, metric=metrics), json_file)
    return outputs, metrics
