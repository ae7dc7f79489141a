"""Print a config with its bases merged and the overrides applied:

python tools/misc/print_config.py CONFIG [--cfg-options k=v ...]
"""

import argparse
import warnings

from mmcv import DictAction

from mmdet.apis.builders import load_config


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Print the full config (bases merged)'
    )
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='config overrides as key=value pairs, e.g. '
        'model.backbone.kernel_num=1',
    )
    parser.add_argument(
        '--options',
        nargs='+',
        action=DictAction,
        help='deprecated name of --cfg-options',
    )
    args = parser.parse_args(argv)
    if args.options and args.cfg_options:
        parser.error('give --cfg-options only (--options is its old name)')
    if args.options:
        warnings.warn('--options is deprecated: use --cfg-options')
        args.cfg_options = args.options
    return args


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    print(f'Config:\n{cfg.pretty_text}')


if __name__ == '__main__':
    main()
