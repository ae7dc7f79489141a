"""Train a detector: python tools/train.py CONFIG [--work-dir D] [...]

The flags are MMDetection 2.x's; the work is done by
``mmdet.apis.train_from_config``.
"""

import argparse
import os
import warnings

import mmdet  # noqa: F401 (checks the installed mmcv first)
from mmdet.utils.cli import KeyValueAction


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a detector')
    parser.add_argument('config', help='config file (e.g. configs/odconv/...)')
    parser.add_argument(
        '--work-dir',
        help='where logs and checkpoints go '
        '(default: work_dirs/<config name>)',
    )
    parser.add_argument(
        '--resume-from',
        help='checkpoint to continue training from '
        '(epoch, optimizer and lr schedule included)',
    )
    parser.add_argument(
        '--auto-resume',
        action='store_true',
        help='continue from the newest checkpoint of the work dir, if any',
    )
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='skip the evaluation after each epoch',
    )
    group_gpus = parser.add_mutually_exclusive_group()
    group_gpus.add_argument(
        '--gpus', type=int, help='deprecated: use --gpu-id'
    )
    group_gpus.add_argument(
        '--gpu-ids', type=int, nargs='+', help='deprecated: use --gpu-id'
    )
    group_gpus.add_argument(
        '--gpu-id',
        type=int,
        default=0,
        help='GPU to train on without a launcher',
    )
    parser.add_argument(
        '--seed',
        type=int,
        default=None,
        help='random seed (default: drawn at random)',
    )
    parser.add_argument(
        '--diff-seed',
        action='store_true',
        help='add the rank to the seed in each process',
    )
    parser.add_argument(
        '--deterministic',
        action='store_true',
        help='make cuDNN deterministic (slower)',
    )
    parser.add_argument(
        '--options',
        nargs='+',
        action=KeyValueAction,
        help='deprecated: use --cfg-options',
    )
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=KeyValueAction,
        help='config overrides as key=value pairs, e.g. '
        'model.pretrained=None data.samples_per_gpu=4 '
        '"optimizer.lr=0.01" (lists: key="[a,b]"; no spaces)',
    )
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='how the processes were started (dist_train.sh: '
        'pytorch; slurm_train.sh: slurm)',
    )
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the lr linearly from auto_scale_lr.base_batch_size '
        'to the actual total batch size',
    )
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if args.options and args.cfg_options:
        raise ValueError(
            '--options and --cfg-options cannot be both '
            'specified, --options is deprecated in favor of '
            '--cfg-options'
        )
    if args.options:
        warnings.warn('--options is deprecated in favor of --cfg-options')
        args.cfg_options = args.options
    return args


def main(argv=None):
    args = parse_args(argv)
    gpu_id = args.gpu_id
    if args.gpus is not None or args.gpu_ids is not None:
        warnings.warn(
            '--gpus and --gpu-ids are deprecated: only one GPU is '
            'used in non-distributed training; use --gpu-id'
        )
        gpu_id = args.gpu_ids[0] if args.gpu_ids else 0
    from mmdet.apis import train_from_config

    train_from_config(
        args.config,
        work_dir=args.work_dir,
        resume_from=args.resume_from,
        auto_resume=args.auto_resume,
        no_validate=args.no_validate,
        gpu_id=gpu_id,
        seed=args.seed,
        diff_seed=args.diff_seed,
        deterministic=args.deterministic,
        cfg_options=args.cfg_options,
        launcher=args.launcher,
        auto_scale_lr=args.auto_scale_lr,
    )


if __name__ == '__main__':
    main()
