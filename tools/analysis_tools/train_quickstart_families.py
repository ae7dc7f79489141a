"""Train and evaluate every quick-start config (configs/quickstart/
*_tiny_coco.py, one detector family each) on the generated tiny set, then
write the Markdown table of epochs, training time, bbox and segm mAP:

    python tools/misc/make_tiny_coco.py --out data/tiny_coco
    python tools/analysis_tools/train_quickstart_families.py \
        --work-dir work_dirs/families --out work_dirs/families/table.md

``--epochs N`` shortens every schedule (a smoke run); ``--table-only``
rewrites the table from the runs already in the work dir; ``--only``
picks configs by name. The work is done by mmdet.analysis.
quickstart_families.
"""

import argparse
import os.path as osp

from mmdet.analysis.quickstart_families import (
    collect_rows,
    config_name,
    find_configs,
    render_table,
    run_isolated,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Train and evaluate every quick-start config and '
        'write a table of their results'
    )
    parser.add_argument(
        '--config-dir',
        default='configs/quickstart',
        help='where the *_tiny_coco.py configs are',
    )
    parser.add_argument(
        '--work-dir',
        default='work_dirs/quickstart_families',
        help='one <config name>/ folder per run goes here',
    )
    parser.add_argument(
        '--only',
        nargs='+',
        metavar='NAME',
        help='train only these configs (names without .py)',
    )
    parser.add_argument(
        '--epochs', type=int, help="override every config's max_epochs"
    )
    parser.add_argument(
        '--data-root', help='a generated set other than data/tiny_coco/'
    )
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--table-only',
        action='store_true',
        help='train nothing; write the table of the runs in --work-dir',
    )
    parser.add_argument('--out', help='also write the table to this .md')
    args = parser.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        parser.error('--epochs must be at least 1')
    if args.data_root and not osp.isdir(args.data_root):
        parser.error(
            f'--data-root {args.data_root!r} does not exist: '
            'generate it with tools/misc/make_tiny_coco.py --out'
        )
    return args


def main(argv=None):
    args = parse_args(argv)
    configs = find_configs(args.config_dir)
    names = [config_name(c) for c in configs]
    unknown = sorted(set(args.only or []) - set(names))
    if unknown:
        raise SystemExit(
            f'--only: no config named {unknown} in '
            f'{args.config_dir} (there are {names})'
        )
    if not args.table_only:
        for config in configs:
            if args.only and config_name(config) not in args.only:
                continue
            print(f'training and testing {config}', flush=True)
            run_isolated(
                config, args.work_dir, args.epochs, args.data_root, args.seed
            )
    text = render_table(collect_rows(configs, args.work_dir))
    print(text, end='')
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as f:
            f.write(text)


if __name__ == '__main__':
    main()
