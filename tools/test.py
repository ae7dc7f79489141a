"""Test (and evaluate) a checkpoint:
python tools/test.py CONFIG CHECKPOINT [--out r.pkl] [--eval bbox segm] [...]

The flags are MMDetection 2.x's; the work is done by
``mmdet.apis.test_from_config``.
"""

import argparse
import os
import warnings

import mmdet  # noqa: F401 (checks the installed mmcv first)
from mmdet.utils.cli import KeyValueAction


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Test a detector checkpoint and evaluate its results'
    )
    parser.add_argument(
        'config', help='config file the checkpoint was trained with'
    )
    parser.add_argument(
        'checkpoint',
        help='checkpoint: .pth file, bare state dict, or unpacked archive/ '
        'folder',
    )
    parser.add_argument(
        '--work-dir', help='also write the metrics to <dir>/eval_<time>.json'
    )
    parser.add_argument(
        '--out', help='write the raw results to this .pkl file'
    )
    parser.add_argument(
        '--fuse-conv-bn',
        action='store_true',
        help='fold BatchNorm into the preceding convs (faster inference)',
    )
    parser.add_argument(
        '--gpu-ids', type=int, nargs='+', help='deprecated: use --gpu-id'
    )
    parser.add_argument(
        '--gpu-id',
        type=int,
        default=0,
        help='GPU to test on without a launcher',
    )
    parser.add_argument(
        '--format-only',
        action='store_true',
        help='only write the results in the data set\'s submission '
        'format (COCO JSON; see --eval-options jsonfile_prefix=...)',
    )
    parser.add_argument(
        '--eval',
        type=str,
        nargs='+',
        help='metrics to compute: bbox, segm, proposal (COCO)',
    )
    parser.add_argument(
        '--show', action='store_true', help='show each result in a window'
    )
    parser.add_argument(
        '--show-dir', help='draw the results and save the images here'
    )
    parser.add_argument(
        '--show-score-thr',
        type=float,
        default=0.3,
        help='draw boxes scoring at least this (default: 0.3)',
    )
    parser.add_argument(
        '--gpu-collect',
        action='store_true',
        help='gather results across processes with collectives '
        'instead of files',
    )
    parser.add_argument(
        '--tmpdir',
        help='shared folder for gathering results across processes '
        '(without --gpu-collect)',
    )
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=KeyValueAction,
        help='config overrides as key=value pairs, e.g. '
        'data.test.ann_file=... (lists: key="[a,b]"; no spaces)',
    )
    parser.add_argument(
        '--options',
        nargs='+',
        action=KeyValueAction,
        help='deprecated: use --eval-options',
    )
    parser.add_argument(
        '--eval-options',
        nargs='+',
        action=KeyValueAction,
        help='key=value arguments for dataset.evaluate / '
        'format_results, e.g. classwise=True jsonfile_prefix=results',
    )
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='how the processes were started (dist_test.sh: '
        'pytorch; slurm_test.sh: slurm)',
    )
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if args.options and args.eval_options:
        raise ValueError(
            '--options and --eval-options cannot be both '
            'specified, --options is deprecated in favor of --eval-options'
        )
    if args.options:
        warnings.warn('--options is deprecated in favor of --eval-options')
        args.eval_options = args.options
    return args


def main(argv=None):
    args = parse_args(argv)
    gpu_id = args.gpu_id
    if args.gpu_ids:
        warnings.warn(
            '--gpu-ids is deprecated: only one GPU is used in '
            'non-distributed testing; use --gpu-id'
        )
        gpu_id = args.gpu_ids[0]
    from mmdet.apis import test_from_config

    test_from_config(
        args.config,
        args.checkpoint,
        out=args.out,
        eval=args.eval,
        format_only=args.format_only,
        show=args.show,
        show_dir=args.show_dir,
        show_score_thr=args.show_score_thr,
        gpu_collect=args.gpu_collect,
        tmpdir=args.tmpdir,
        cfg_options=args.cfg_options,
        eval_options=args.eval_options,
        launcher=args.launcher,
        fuse_conv_bn=args.fuse_conv_bn,
        work_dir=args.work_dir,
        gpu_id=gpu_id,
    )


if __name__ == '__main__':
    main()
