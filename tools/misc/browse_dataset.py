"""Draw what a config's training pipeline produces.

python tools/misc/browse_dataset.py CONFIG --output-dir D --not-show
    [--skip-type DefaultFormatBundle Normalize Collect]
    [--show-interval 2] [--cfg-options k=v ...]
"""

import argparse

from mmcv import DictAction

from mmdet.datasets.browse import DEFAULT_SKIP_TYPES, browse_dataset


def parse_args():
    parser = argparse.ArgumentParser(description='Browse a dataset')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--skip-type',
        type=str,
        nargs='+',
        default=list(DEFAULT_SKIP_TYPES),
        help='skip some useless pipeline',
    )
    parser.add_argument(
        '--output-dir',
        default=None,
        type=str,
        help='If there is no display interface, you can save it',
    )
    parser.add_argument('--not-show', default=False, action='store_true')
    parser.add_argument(
        '--show-interval',
        type=float,
        default=2,
        help='the interval of show (s)',
    )
    parser.add_argument(
        '--max-images',
        type=int,
        default=None,
        help='stop after this many images',
    )
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, '
        'the key-value pair in xxx=yyy format will be merged '
        'into config file',
    )
    return parser.parse_args()


def main():
    args = parse_args()
    written = browse_dataset(
        args.config,
        output_dir=args.output_dir,
        show=not args.not_show,
        show_interval=args.show_interval,
        skip_type=args.skip_type,
        cfg_options=args.cfg_options,
        max_images=args.max_images,
    )
    if args.output_dir is not None:
        print(f'\n{len(written)} images written to {args.output_dir}')


if __name__ == '__main__':
    main()
