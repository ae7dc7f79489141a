"""Generate the tiny synthetic COCO-format data set.

python tools/misc/make_tiny_coco.py [--out data/tiny_coco] [--seed 0]
    [--num-train 400] [--num-val 100] [--size 128] [--difficulty easy]
"""

import argparse
import time

from mmdet.testing import DIFFICULTIES, make_tiny_coco


def parse_args():
    parser = argparse.ArgumentParser(
        description='Write a tiny COCO-format data set of coloured shapes'
    )
    parser.add_argument(
        '--out', default='data/tiny_coco', help='output folder'
    )
    parser.add_argument(
        '--seed',
        type=int,
        default=0,
        help='the same seed writes the same data set',
    )
    parser.add_argument(
        '--num-train', type=int, default=400, help='training images'
    )
    parser.add_argument(
        '--num-val', type=int, default=100, help='validation images'
    )
    parser.add_argument(
        '--size',
        type=int,
        default=128,
        help='long image side in pixels (the tiny_coco '
        'configs use img_scale=(128, 128))',
    )
    parser.add_argument(
        '--difficulty',
        default='easy',
        choices=sorted(DIFFICULTIES),
        help='easy: colour and shape tell the class; '
        'medium: smaller, rotated, noisier; hard: random '
        'colours, shape only',
    )
    return parser.parse_args()


def main():
    args = parse_args()
    start = time.time()
    info = make_tiny_coco(
        args.out,
        seed=args.seed,
        num_train=args.num_train,
        num_val=args.num_val,
        size=args.size,
        difficulty=args.difficulty,
    )
    print(
        f'tiny COCO written to {info["out_dir"]} in '
        f'{time.time() - start:.1f}s; classes: {", ".join(info["classes"])}'
    )
    for split in ('train', 'val'):
        part = info[split]
        print(
            f'  {split}: {part["images"]} images, {part["annotations"]} '
            f'annotations -> {part["ann_file"]}'
        )


if __name__ == '__main__':
    main()
