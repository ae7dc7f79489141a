"""Print a config with its bases merged and the overrides applied:

python tools/misc/print_config.py CONFIG [--cfg-options k=v ...]
"""

import argparse

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
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    print(f'Config:\n{cfg.pretty_text}')


if __name__ == '__main__':
    main()
