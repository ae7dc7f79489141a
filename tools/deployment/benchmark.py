"""Per-image latency of PyTorch eager vs ONNX Runtime on the CPU, side by
side in one run (interleaved image by image):

    python tools/deployment/benchmark.py CONFIG [CONFIG ...] \
        [--checkpoint F] [--shape 800 1333] [--num-iters 5] \
        [--warmup 1] [--threads N]

Each config is exported (dynamic shape) to a temporary file first. The
work is done by ``mmdet.apis.deployment.benchmark_backends``.
"""

import argparse

from mmcv import DictAction

import mmdet  # noqa: F401 (checks the installed mmcv first)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Latency of PyTorch vs ONNX Runtime on the CPU'
    )
    parser.add_argument('configs', nargs='+', help='config files')
    parser.add_argument(
        '--checkpoint',
        help='weights (default: the initial ones; only one config then)',
    )
    parser.add_argument(
        '--shape',
        type=int,
        nargs=2,
        default=[800, 1333],
        metavar=('H', 'W'),
        help='image size (default: 800 1333)',
    )
    parser.add_argument(
        '--num-iters',
        type=int,
        default=5,
        help='timed images per backend (default: 5)',
    )
    parser.add_argument(
        '--warmup',
        type=int,
        default=1,
        help='untimed images first (default: 1)',
    )
    parser.add_argument(
        '--threads',
        type=int,
        help='threads of both backends (default: torch.get_num_threads())',
    )
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='config overrides as key=value pairs',
    )
    args = parser.parse_args(argv)
    if args.checkpoint and len(args.configs) > 1:
        parser.error('--checkpoint goes with one config')
    if args.num_iters < 1 or args.warmup < 0:
        parser.error('--num-iters must be positive, --warmup >= 0')
    return args


def main(argv=None):
    args = parse_args(argv)
    from mmdet.apis.deployment import benchmark_backends

    results = {}
    for config in args.configs:
        results[config] = benchmark_backends(
            config,
            args.checkpoint,
            tuple(args.shape),
            args.num_iters,
            args.warmup,
            args.threads,
            cfg_options=args.cfg_options,
        )
    print('\n| config | PyTorch (ms/img) | ONNX Runtime (ms/img) | ratio |')
    print('|---|---|---|---|')
    for config, r in results.items():
        print(
            f'| {config} | {r["pytorch"]:.0f} | {r["onnxruntime"]:.0f} '
            f'| {r["ratio"]:.2f} |'
        )


if __name__ == '__main__':
    main()
