"""Plot the COCO error breakdown (C75, C50, Loc, Sim, Oth, BG, FN) of a
results JSON in COCO result format, per category and for all classes:

    python tools/analysis_tools/coco_error_analysis.py \
        results.bbox.json out_dir \
        --ann data/coco/annotations/instances_val2017.json \
        [--types bbox segm] [--extraplots] [--areas 1024 9216 10000000000]

The plots go to ``out_dir/bbox/`` and ``out_dir/segm/``.
"""

import argparse

from mmdet.analysis.coco_error_analysis import (
    DEFAULT_AREAS,
    RESULT_TYPES,
    analyze_results,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='COCO error breakdown plots of a detection results file'
    )
    parser.add_argument(
        'result', help='detections in COCO result format (.json)'
    )
    parser.add_argument('out_dir', help='folder to write the plots to')
    parser.add_argument(
        '--ann',
        default='data/coco/annotations/instances_val2017.json',
        help='COCO annotation file of the evaluated images',
    )
    parser.add_argument(
        '--types',
        nargs='+',
        default=['bbox'],
        choices=RESULT_TYPES,
        help='what to evaluate: bbox, segm or both',
    )
    parser.add_argument(
        '--extraplots',
        action='store_true',
        help='also write AP bar plots and ground truth area statistics',
    )
    parser.add_argument(
        '--areas',
        type=float,
        nargs='+',
        default=list(DEFAULT_AREAS),
        help='upper bounds (pixels^2) of small, medium and large objects',
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    analyze_results(
        args.result,
        args.ann,
        args.out_dir,
        types=args.types,
        extraplots=args.extraplots,
        areas=args.areas,
    )


if __name__ == '__main__':
    main()
