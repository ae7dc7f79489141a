"""Export a detector to ONNX (MMDetection 2.x's command line):

    python tools/deployment/pytorch2onnx.py CONFIG CHECKPOINT \
        --output-file model.onnx [--input-img I] [--test-img I] \
        [--shape H W] [--dynamic-export] [--verify] [--simplify] \
        [--skip-postprocess] [--cfg-options k=v ...]

Needs the deployment extra: pip install -e ".[deploy]". The work is done
by ``mmdet.apis.deployment.pytorch2onnx``.
"""

import argparse
import warnings

from mmcv import DictAction

import mmdet  # noqa: F401 (checks the installed mmcv first)
from mmdet.core.export.pytorch2onnx import DEFAULT_OPSET


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert a detector from PyTorch to ONNX'
    )
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--output-file',
        default='tmp.onnx',
        help='the ONNX file to write (default: tmp.onnx)',
    )
    parser.add_argument(
        '--input-img',
        help='image to trace with (default: '
        'a fixed random image of --shape or 800x1333)',
    )
    parser.add_argument(
        '--test-img', help='image for --verify (default: the input image)'
    )
    parser.add_argument(
        '--shape',
        type=int,
        nargs='+',
        metavar='SIZE',
        help='resize the input to H W (or S S for one number S) instead of '
        "the test pipeline's scale",
    )
    parser.add_argument(
        '--opset-version',
        type=int,
        default=DEFAULT_OPSET,
        help=f'ONNX opset, >= 16; 19 for deformable convolutions (default: '
        f'{DEFAULT_OPSET})',
    )
    parser.add_argument(
        '--dynamic-export',
        action='store_true',
        help='any image height and width in one file',
    )
    parser.add_argument(
        '--verify',
        action='store_true',
        help='compare ONNX Runtime with PyTorch',
    )
    parser.add_argument(
        '--simplify',
        action='store_true',
        help='simplify the graph with onnxsim',
    )
    parser.add_argument(
        '--skip-postprocess',
        action='store_true',
        help='export only backbone, neck and RPN maps',
    )
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='config overrides as key=value pairs',
    )
    for name, nargs in (('--dataset', None), ('--mean', '+'), ('--std', '+')):
        parser.add_argument(
            name,
            nargs=nargs,
            help='deprecated and ignored: read from the config',
        )
    args = parser.parse_args(argv)
    if args.shape is not None:
        if len(args.shape) not in (1, 2):
            parser.error('--shape takes H W, or one number for a square')
        args.shape = args.shape * (3 - len(args.shape))
    if any(v is not None for v in (args.dataset, args.mean, args.std)):
        warnings.warn(
            '--dataset, --mean and --std are deprecated and ignored: the '
            "config's test pipeline gives the normalisation"
        )
    return args


def main(argv=None):
    args = parse_args(argv)
    from mmdet.apis.deployment import pytorch2onnx

    report = pytorch2onnx(
        args.config,
        args.checkpoint,
        args.output_file,
        input_img=args.input_img,
        test_img=args.test_img,
        shape=args.shape,
        dynamic_export=args.dynamic_export,
        verify=args.verify,
        simplify=args.simplify,
        skip_postprocess=args.skip_postprocess,
        opset_version=args.opset_version,
        cfg_options=args.cfg_options,
    )
    if report is not None and not report['ok']:
        raise SystemExit(1)


if __name__ == '__main__':
    main()
