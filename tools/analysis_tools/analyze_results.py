"""Rank the images of the config's test set by the box mAP (IoU 0.5:0.95)
of a results file from ``tools/test.py --out`` and draw the best and the
worst:

    python tools/analysis_tools/analyze_results.py CONFIG results.pkl \
        SHOW_DIR [--topk 20] [--show-score-thr 0] [--overlay-gt-pred]

writes SHOW_DIR/good/ and SHOW_DIR/bad/ (<image>_<mAP>.<ext>).
"""

import argparse

from mmcv import DictAction

from mmdet.analysis.analyze_results import analyze_results


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Draw the best and worst images of saved results'
    )
    parser.add_argument('config', help='the config the results come from')
    parser.add_argument(
        'prediction_path', help='results .pkl (tools/test.py --out)'
    )
    parser.add_argument(
        'show_dir', help='folder for the drawings (good/ and bad/)'
    )
    parser.add_argument(
        '--show', action='store_true', help='also show each drawing'
    )
    parser.add_argument(
        '--wait-time',
        type=float,
        default=0,
        help='seconds each shown drawing stays (0: until a key)',
    )
    parser.add_argument(
        '--topk',
        type=int,
        default=20,
        help='how many best and how many worst images to draw',
    )
    parser.add_argument(
        '--show-score-thr',
        type=float,
        default=0,
        help='draw detections scoring above this',
    )
    parser.add_argument(
        '--overlay-gt-pred',
        action='store_true',
        help='ground truth and detections on one image (default: ground '
        'truth above, detections below)',
    )
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='config overrides as key=value pairs',
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    analyze_results(
        args.config,
        args.prediction_path,
        args.show_dir,
        show=args.show,
        wait_time=args.wait_time,
        topk=args.topk,
        show_score_thr=args.show_score_thr,
        overlay_gt_pred=args.overlay_gt_pred,
        cfg_options=args.cfg_options,
    )


if __name__ == '__main__':
    main()
