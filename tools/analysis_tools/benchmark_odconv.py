"""Time ODConv2d against a plain nn.Conv2d of the same shape.

    python tools/analysis_tools/benchmark_odconv.py [--device cpu|cuda]
        [--batch 2] [--scale 0.25] [--repeat 10] [--kernel-num 4]

For each layer shape typical of ResNet-50 / MobileNetV2 in a detector (input
800x1333 times --scale), prints the median time of the plain conv and of
ODConv2d, at inference (eval, no_grad) and for forward + backward (train),
and their ratio. SPEC.md's targets: 1.1x at inference, 1.3x train.
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
    parser.add_argument('--scale', type=float, default=0.25,
                        help='input size relative to 800x1333')
    parser.add_argument('--repeat', type=int, default=10)
    parser.add_argument('--kernel-num', type=int, default=4)
    parser.add_argument('--fp16', action='store_true',
                        help='autocast to half precision (cuda)')
    return parser.parse_args()


def sync(device):
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def median_ms(fn, repeat, device):
    fn()  # warm-up (also selects the algorithms)
    fn()
    times = []
    for _ in range(repeat):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def time_layer(layer, x, train, repeat, device, fp16):
    layer.train(train)
    autocast = torch.autocast(device.split(':')[0], enabled=fp16)

    def infer():
        with torch.no_grad(), autocast:
            layer(x)

    def fwd_bwd():
        with autocast:
            out = layer(x)
        out.float().sum().backward()

    return median_ms(fwd_bwd if train else infer, repeat, device)


def main():
    args = parse_args()
    torch.manual_seed(0)
    height, width = int(800 * args.scale), int(1333 * args.scale)
    print(f'device {args.device}, batch {args.batch}, input '
          f'{height}x{width}, kernel_num {args.kernel_num}, '
          f'fp16 {args.fp16}, torch {torch.__version__}, threads '
          f'{torch.get_num_threads()}')
    header = (f'{"layer":24s} {"feature":>9s} | {"conv ms":>8s} '
              f'{"odconv ms":>9s} {"ratio":>6s} | {"conv ms":>8s} '
              f'{"odconv ms":>9s} {"ratio":>6s}')
    print(f'{"":35s} |{"inference":^26s}|{"forward+backward":^26s}')
    print(header)
    print('-' * len(header))
    ratios = {False: [], True: []}
    for name, cin, cout, k, stride, groups, fstride in LAYERS:
        size = (args.batch, cin, -(-height // fstride), -(-width // fstride))
        x = torch.randn(size, device=args.device)
        plain = nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups,
                          bias=False).to(args.device)
        od = ODConv2d(cin, cout, k, stride, k // 2, groups=groups,
                      kernel_num=args.kernel_num).to(args.device)
        row = f'{name:24s} {size[2]:>4d}x{size[3]:<4d} |'
        for train in (False, True):
            x.requires_grad_(train)
            t_plain = time_layer(plain, x, train, args.repeat, args.device,
                                 args.fp16)
            t_od = time_layer(od, x, train, args.repeat, args.device,
                              args.fp16)
            ratios[train].append(t_od / t_plain)
            row += f' {t_plain:8.2f} {t_od:9.2f} {t_od / t_plain:5.2f}x |'
        print(row)
    print('-' * len(header))
    for train, target in ((False, 1.1), (True, 1.3)):
        mean = statistics.mean(ratios[train])
        print(f'{"forward+backward" if train else "inference":16s} mean '
              f'ratio {mean:.2f}x (target {target}x), geometric mean '
              f'{statistics.geometric_mean(ratios[train]):.2f}x')


if __name__ == '__main__':
    main()
