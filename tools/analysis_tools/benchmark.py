"""Measure a detector's inference speed (images per second) on its test
data; works on the CPU and on a GPU:

    python tools/analysis_tools/benchmark.py CONFIG CHECKPOINT \
        [--max-iter 2000] [--log-interval 50] [--repeat-num 1] \
        [--fuse-conv-bn]

The first 5 images warm up and are not timed; data loading is not timed.
"""

import argparse
import os

from mmcv import DictAction

from mmdet.analysis.benchmark import benchmark


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Measure the inference speed of a detector'
    )
    parser.add_argument('config', help='the detector\'s config file')
    parser.add_argument('checkpoint', help='its checkpoint')
    parser.add_argument(
        '--repeat-num',
        type=int,
        default=1,
        help='measure this many times (default: 1)',
    )
    parser.add_argument(
        '--max-iter',
        type=int,
        default=2000,
        help='images per measurement, warm-up included (default: 2000)',
    )
    parser.add_argument(
        '--log-interval',
        type=int,
        default=50,
        help='print the running FPS every this many images (default: 50)',
    )
    parser.add_argument(
        '--fuse-conv-bn',
        action='store_true',
        help='fold BatchNorm into the preceding convs '
        'first (faster inference)',
    )
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='config overrides as key=value pairs',
    )
    parser.add_argument(
        '--launcher',
        default='none',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        help='how the processes were started (default: '
        'none, a single process)',
    )
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    if args.repeat_num < 1 or args.max_iter < 1 or args.log_interval < 1:
        parser.error(
            '--repeat-num, --max-iter and --log-interval must be positive'
        )
    return args


def main(argv=None):
    args = parse_args(argv)
    benchmark(
        args.config,
        args.checkpoint,
        max_iter=args.max_iter,
        log_interval=args.log_interval,
        fuse_conv_bn=args.fuse_conv_bn,
        repeat_num=args.repeat_num,
        cfg_options=args.cfg_options,
        launcher=args.launcher,
    )


if __name__ == '__main__':
    main()
