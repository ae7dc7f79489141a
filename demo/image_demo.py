"""Detect objects in one image and draw them:

    python demo/image_demo.py demo/demo.jpg CONFIG CHECKPOINT \
        --device cpu --score-thr 0.3 --out-file result.jpg

Without --out-file the drawing is shown in a window. With --backend
onnxruntime CHECKPOINT is an exported .onnx file (tools/deployment/
pytorch2onnx.py), run by ONNX Runtime instead of PyTorch.
"""

import argparse

from mmdet.apis import inference_detector, show_result_pyplot
from mmdet.apis.deployment import BACKENDS, init_backend_detector


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Run a detector on one image and draw its detections'
    )
    parser.add_argument('img', help='the image file')
    parser.add_argument('config', help='the detector\'s config file')
    parser.add_argument(
        'checkpoint',
        help='its checkpoint (.pth file, state '
        'dict, or unpacked archive/ folder)',
    )
    parser.add_argument(
        '--out-file',
        default=None,
        help='write the drawing here instead of showing it',
    )
    parser.add_argument(
        '--backend',
        default='pytorch',
        choices=BACKENDS,
        help='onnxruntime: CHECKPOINT is a .onnx file written by '
        'tools/deployment/pytorch2onnx.py, run by ONNX Runtime on the CPU '
        '(default: pytorch)',
    )
    parser.add_argument(
        '--device',
        default='cuda:0',
        help='where to run: cuda:0, cpu, ... (default: cuda:0)',
    )
    parser.add_argument(
        '--palette',
        default='coco',
        choices=['coco', 'random'],
        help='colours of the classes (default: coco)',
    )
    parser.add_argument(
        '--score-thr',
        type=float,
        default=0.3,
        help='draw detections scoring above this (default: 0.3)',
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    model = init_backend_detector(
        args.config, args.checkpoint, args.backend, device=args.device
    )
    result = inference_detector(model, args.img)
    show_result_pyplot(
        model,
        args.img,
        result,
        score_thr=args.score_thr,
        palette=args.palette,
        out_file=args.out_file,
    )
    if args.out_file:
        print(f'detections drawn to {args.out_file}')


if __name__ == '__main__':
    main()
