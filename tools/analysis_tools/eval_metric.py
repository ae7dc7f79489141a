"""Evaluate a results file from ``tools/test.py --out`` again:

    python tools/analysis_tools/eval_metric.py CONFIG results.pkl \
        --eval bbox segm [--eval-options classwise=True]
"""

import argparse

from mmcv import DictAction

from mmdet.analysis.reevaluate import reevaluate


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Evaluate saved detection results (no model run)'
    )
    parser.add_argument('config', help='the config the results come from')
    parser.add_argument(
        'pkl_results', help='results .pkl (tools/test.py --out)'
    )
    parser.add_argument(
        '--format-only',
        action='store_true',
        help='only write the results in the data set\'s '
        'submission format (COCO JSON; see --eval-options '
        'jsonfile_prefix=...)',
    )
    parser.add_argument(
        '--eval', nargs='+', help='metrics: bbox, segm, proposal (COCO)'
    )
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='config overrides as key=value pairs',
    )
    parser.add_argument(
        '--eval-options',
        nargs='+',
        action=DictAction,
        help='key=value arguments for dataset.evaluate / '
        'format_results, e.g. classwise=True',
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    metrics = reevaluate(
        args.config,
        args.pkl_results,
        metrics=args.eval,
        format_only=args.format_only,
        cfg_options=args.cfg_options,
        eval_options=args.eval_options,
    )
    if metrics is not None:
        print(metrics)


if __name__ == '__main__':
    main()
