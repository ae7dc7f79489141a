"""Print a detector's Params and FLOPs for one input size:

    python tools/analysis_tools/get_flops.py CONFIG [--shape H W]

FLOPs count multiply-accumulates the way mmcv does; every ODConv2d is
counted in full: its attention branch (pooling, squeeze, BatchNorm, ReLU and
the attention heads), the aggregation of its candidate kernels, the
attention scaling and the convolution (mmdet/analysis/complexity.py has the
formulas). Params count every parameter, frozen ones included.
"""

import argparse

from mmcv import DictAction

from mmdet.analysis.complexity import (
    ODCONV_PARTS,
    build_detector_for_counting,
    detector_complexity,
    format_count,
    padded_shape,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Count the parameters and FLOPs of a detector'
    )
    parser.add_argument('config', help='the detector\'s config file')
    parser.add_argument(
        '--shape',
        type=int,
        nargs='+',
        default=[1280, 800],
        help='input size: H W, or one number for a square (default: 1280 800)',
    )
    parser.add_argument(
        '--size-divisor',
        type=int,
        default=32,
        help='round the size up to a multiple of this, as '
        'the test pipeline pads; <= 0 to keep it as is '
        '(default: 32)',
    )
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='config overrides as key=value pairs',
    )
    args = parser.parse_args(argv)
    if len(args.shape) not in (1, 2):
        parser.error('--shape takes H W or one number')
    return args


def main(argv=None):
    args = parse_args(argv)
    shape = args.shape * 2 if len(args.shape) == 1 else args.shape
    padded = padded_shape(shape, args.size_divisor)
    model = build_detector_for_counting(args.config, args.cfg_options)
    result = detector_complexity(model, padded)
    line = '=' * 30
    print(line)
    if padded != tuple(shape):
        print(
            f'Input shape {tuple(shape)} padded to {padded} (size '
            f'divisor {args.size_divisor})'
        )
    print(f'Input shape: (3, {padded[0]}, {padded[1]})')
    print(f'Flops: {format_count(result["flops"], "FLOPs")}')
    print(
        f'Params: {format_count(result["params"], "")} ({result["params"]:,})'
    )
    for part, flops in result['by_part'].items():
        print(f'  {part}: {format_count(flops, "FLOPs")}')
    if result['num_odconv']:
        print(f'ODConv2d layers: {result["num_odconv"]}, counted in full:')
        for part in ODCONV_PARTS:
            print(f'  {part}: {format_count(result["odconv"][part], "FLOPs")}')
    print(line)
    print(
        'FLOPs are multiply-accumulates (mmcv convention) of the modules; '
        'RoIAlign, NMS, sigmoid and softmax are not counted.'
    )


if __name__ == '__main__':
    main()
