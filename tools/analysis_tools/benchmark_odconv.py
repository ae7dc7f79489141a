"""Time ODConv2d against a plain nn.Conv2d of the same shape.

    python tools/analysis_tools/benchmark_odconv.py [--device cpu|cuda]
        [--batch 2] [--scale 1.0] [--repeat 10] [--kernel-num 4]

For each layer shape typical of ResNet-50 / MobileNetV2 in a detector (input
800x1333 times --scale), prints the time of the plain conv and of ODConv2d,
at inference (eval, no_grad) and for forward + backward (train), and their
ratio. The targets (docs/design.md), at detection resolution (the default
scale 1.0): 1.1x at inference, 1.3x train. ``--scale 0.25`` is a quicker
look, where the attention branch's fixed cost per call weighs more.

The two layers are timed alternately and each time is the minimum over
--repeat runs (``--stat median`` for the median), which is what survives
other processes sharing the CPU. On a busy machine ``--threads 1`` gives
steadier numbers than a thread pool that waits for descheduled threads.
"""

import argparse
import statistics
import time

import torch
import torch.nn as nn

from mmdet.models.backbones.odconv import ODConv2d

# (name, in, out, kernel, stride, groups, feature stride in the network)
LAYERS = [
    ('r50 layer1 1x1 reduce', 256, 64, 1, 1, 1, 4),
    ('r50 layer1 3x3', 64, 64, 3, 1, 1, 4),
    ('r50 layer2 3x3 s2', 128, 128, 3, 2, 1, 4),
    ('r50 layer3 1x1 expand', 256, 1024, 1, 1, 1, 16),
    ('r50 layer4 3x3', 512, 512, 3, 1, 1, 32),
    ('mnv2 expand 1x1', 32, 192, 1, 1, 1, 8),
    ('mnv2 depthwise 3x3', 192, 192, 3, 1, 192, 8),
    ('mnv2 project 1x1', 192, 32, 1, 1, 1, 8),
    ('mnv2 last 1x1', 320, 1280, 1, 1, 1, 32),
]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument(
        '--scale',
        type=float,
        default=1.0,
        help='input size relative to 800x1333',
    )
    parser.add_argument('--repeat', type=int, default=20)
    parser.add_argument('--kernel-num', type=int, default=4)
    parser.add_argument(
        '--fp16', action='store_true', help='autocast to half precision (cuda)'
    )
    parser.add_argument(
        '--threads',
        type=int,
        default=None,
        help='torch CPU threads (default: torch\'s choice)',
    )
    parser.add_argument('--stat', choices=('min', 'median'), default='min')
    return parser.parse_args()


def sync(device):
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def step(layer, x, train, fp16, device):
    """One inference or forward+backward call of ``layer`` on ``x``."""
    autocast = torch.autocast(device.split(':')[0], enabled=fp16)
    if train:
        with autocast:
            out = layer(x)
        out.float().sum().backward()
    else:
        with torch.no_grad(), autocast:
            layer(x)


def time_pair(layers, x, train, args):
    """Milliseconds per call of each layer, timed in alternation."""
    times = [[] for _ in layers]
    for layer in layers:
        layer.train(train)
        for _ in range(2):  # warm-up (also selects the algorithms)
            step(layer, x, train, args.fp16, args.device)
    for _ in range(args.repeat):
        for layer, record in zip(layers, times):
            sync(args.device)
            start = time.perf_counter()
            step(layer, x, train, args.fp16, args.device)
            sync(args.device)
            record.append((time.perf_counter() - start) * 1000)
    reduce = min if args.stat == 'min' else statistics.median
    return [reduce(record) for record in times]


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    height, width = int(800 * args.scale), int(1333 * args.scale)
    print(
        f'device {args.device}, batch {args.batch}, input '
        f'{height}x{width}, kernel_num {args.kernel_num}, '
        f'fp16 {args.fp16}, torch {torch.__version__}, threads '
        f'{torch.get_num_threads()}, {args.stat} of {args.repeat} runs'
    )
    header = (
        f'{"layer":24s} {"feature":>9s} | {"conv ms":>8s} '
        f'{"odconv ms":>9s} {"ratio":>6s} | {"conv ms":>8s} '
        f'{"odconv ms":>9s} {"ratio":>6s}'
    )
    print(f'{"":35s} |{"inference":^26s}|{"forward+backward":^26s}')
    print(header)
    print('-' * len(header))
    ratios = {False: [], True: []}
    for name, cin, cout, k, stride, groups, fstride in LAYERS:
        size = (args.batch, cin, -(-height // fstride), -(-width // fstride))
        x = torch.randn(size, device=args.device)
        plain = nn.Conv2d(
            cin, cout, k, stride, k // 2, groups=groups, bias=False
        ).to(args.device)
        od = ODConv2d(
            cin,
            cout,
            k,
            stride,
            k // 2,
            groups=groups,
            kernel_num=args.kernel_num,
        ).to(args.device)
        row = f'{name:24s} {size[2]:>4d}x{size[3]:<4d} |'
        for train in (False, True):
            x.requires_grad_(train)
            t_plain, t_od = time_pair((plain, od), x, train, args)
            ratios[train].append(t_od / t_plain)
            row += f' {t_plain:8.2f} {t_od:9.2f} {t_od / t_plain:5.2f}x |'
        print(row)
    print('-' * len(header))
    for train, target in ((False, 1.1), (True, 1.3)):
        mean = statistics.mean(ratios[train])
        print(
            f'{"forward+backward" if train else "inference":16s} mean '
            f'ratio {mean:.2f}x (target {target}x), geometric mean '
            f'{statistics.geometric_mean(ratios[train]):.2f}x'
        )


if __name__ == '__main__':
    main()
