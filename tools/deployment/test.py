"""Evaluate an exported detector on its config's test set (MMDetection
2.x's command line):

    python tools/deployment/test.py CONFIG model.onnx \
        --backend onnxruntime [--out r.pkl] [--eval bbox segm] \
        [--format-only] [--show-dir D] [--cfg-options k=v ...]

The metrics are the same COCO metrics as tools/test.py. The work is done
by ``mmdet.apis.deployment.test_onnx``.
"""

import argparse

from mmcv import DictAction

import mmdet  # noqa: F401 (checks the installed mmcv first)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Test an exported detector with ONNX Runtime'
    )
    parser.add_argument('config', help='config file')
    parser.add_argument('model', help='the exported .onnx file')
    parser.add_argument(
        '--backend', required=True, choices=['onnxruntime'], help='the runtime'
    )
    parser.add_argument('--out', help='write the raw results to this .pkl')
    parser.add_argument(
        '--format-only',
        action='store_true',
        help='only write the results in the data set\'s submission format',
    )
    parser.add_argument(
        '--eval', type=str, nargs='+', help='metrics, e.g. bbox segm'
    )
    parser.add_argument(
        '--batch-size',
        type=int,
        help='images per graph run (default: the config\'s '
        'data.test_dataloader.samples_per_gpu, else 1); more than 1 needs '
        'a file exported with --dynamic-export',
    )
    parser.add_argument('--show-dir', help='draw the results into this folder')
    parser.add_argument(
        '--show-score-thr',
        type=float,
        default=0.3,
        help='score threshold for drawing (default: 0.3)',
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
        help='keyword arguments of dataset.evaluate',
    )
    args = parser.parse_args(argv)
    if args.batch_size is not None and args.batch_size < 1:
        parser.error('--batch-size must be at least 1')
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        parser.error('--out must be a .pkl/.pickle file')
    return args


def main(argv=None):
    args = parse_args(argv)
    from mmdet.apis.deployment import test_onnx

    test_onnx(
        args.config,
        args.model,
        backend=args.backend,
        out=args.out,
        eval=args.eval,
        format_only=args.format_only,
        show_dir=args.show_dir,
        show_score_thr=args.show_score_thr,
        eval_options=args.eval_options,
        cfg_options=args.cfg_options,
        batch_size=args.batch_size,
    )


if __name__ == '__main__':
    main()
