"""Plot the confusion matrix of a results file from ``tools/test.py --out``
against the config's test set:

    python tools/analysis_tools/confusion_matrix.py CONFIG results.pkl \
        SAVE_DIR [--score-thr 0.3] [--tp-iou-thr 0.5] [--nms-iou-thr T]

writes SAVE_DIR/confusion_matrix.png.
"""

import argparse

from mmcv import DictAction

from mmdet.analysis.confusion_matrix import confusion_matrix


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Confusion matrix of saved detection results'
    )
    parser.add_argument('config', help='the config the results come from')
    parser.add_argument(
        'prediction_path', help='results .pkl (tools/test.py --out)'
    )
    parser.add_argument('save_dir', help='folder for confusion_matrix.png')
    parser.add_argument(
        '--show', action='store_true', help='also open the plot in a window'
    )
    parser.add_argument(
        '--color-theme', default='plasma', help='matplotlib colour map'
    )
    parser.add_argument(
        '--score-thr',
        type=float,
        default=0.3,
        help='detections scoring lower are left out',
    )
    parser.add_argument(
        '--tp-iou-thr',
        type=float,
        default=0.5,
        help='IoU from which a detection matches a ground-truth box',
    )
    parser.add_argument(
        '--nms-iou-thr',
        type=float,
        default=None,
        help='run NMS again on each class with this IoU threshold '
        '(default: keep the detector\'s NMS)',
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
    confusion_matrix(
        args.config,
        args.prediction_path,
        args.save_dir,
        show=args.show,
        color_theme=args.color_theme,
        score_thr=args.score_thr,
        tp_iou_thr=args.tp_iou_thr,
        nms_iou_thr=args.nms_iou_thr,
        cfg_options=args.cfg_options,
    )


if __name__ == '__main__':
    main()
