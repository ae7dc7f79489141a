"""Write the results table of the ODConv configs in configs/odconv/
metafile.yml (the 8 released ones, then the other families' ODConv
versions; docs/model_zoo.md):

    python tools/analysis_tools/odconv_table.py --work-dirs work_dirs \
        [--results NAME=work_dirs/NAME/eval_<time>.json ...] \
        [--out docs/results.md]

Params are counted on the models built from configs/odconv/ (CPU); box and
mask AP come from each run: work_dirs/<config name>/ (its newest
eval_*.json from tools/test.py --work-dir, else the last evaluation in its
newest .log.json) or a --results file; a config without either is 'not
run'. The published numbers stand beside the measured ones.
"""

import argparse
import os.path as osp

from mmdet.analysis.odconv_table import odconv_rows, render_markdown


def parse_results(items, parser):
    results = {}
    for item in items or []:
        name, sep, path = item.partition('=')
        if not sep or not name or not path:
            parser.error(f'--results takes NAME=FILE, got {item!r}')
        name = osp.splitext(osp.basename(name))[0]
        if not osp.isfile(path):
            parser.error(f'--results {item}: no file {path!r}')
        results[name] = path
    return results


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Write the Params / box AP / mask AP table of the '
        'ODConv configs (configs/odconv/metafile.yml) from their runs'
    )
    parser.add_argument(
        '--work-dirs',
        nargs='+',
        default=[],
        help='folders holding one <config name>/ folder per '
        'run (e.g. work_dirs)',
    )
    parser.add_argument(
        '--results',
        nargs='+',
        metavar='NAME=FILE',
        help='metrics JSON of a config (tools/test.py '
        '--work-dir writes eval_<time>.json); overrides '
        'the work dirs',
    )
    parser.add_argument(
        '--config-dir',
        default='configs/odconv',
        help='where the configs and metafile.yml are '
        '(default: configs/odconv, run from the '
        'repository root)',
    )
    parser.add_argument('--out', help='also write the table to this .md')
    args = parser.parse_args(argv)
    args.results = parse_results(args.results, parser)
    if not osp.isdir(args.config_dir):
        parser.error(
            f'config dir {args.config_dir!r} does not exist: run '
            'from the repository root or give --config-dir'
        )
    return args


def main(argv=None):
    args = parse_args(argv)
    rows = odconv_rows(args.config_dir, args.work_dirs, args.results)
    text = render_markdown(rows)
    print(text, end='')
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as f:
            f.write(text)


if __name__ == '__main__':
    main()
