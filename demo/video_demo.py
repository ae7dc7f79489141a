"""Detect objects in every frame of a video and write the drawn video:

    python demo/video_demo.py demo/demo.mp4 CONFIG CHECKPOINT \
        --device cpu --score-thr 0.3 --out result.mp4

--show shows the frames as they are drawn (needs a display; Esc or q
stops). With --backend onnxruntime CHECKPOINT is an exported .onnx file
(tools/deployment/pytorch2onnx.py), run by ONNX Runtime instead of PyTorch.
The output codec follows the extension: .mp4 (mp4v), .avi (MJPG).
"""

import argparse

from mmdet.apis import detect_video
from mmdet.apis.deployment import BACKENDS, init_backend_detector


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Run a detector on a video and draw its detections'
    )
    parser.add_argument('video', help='the video file (or a stream URL)')
    parser.add_argument('config', help='the detector\'s config file')
    parser.add_argument('checkpoint', help='its checkpoint file')
    parser.add_argument(
        '--backend',
        default='pytorch',
        choices=BACKENDS,
        help='onnxruntime: CHECKPOINT is a .onnx file written by '
        'tools/deployment/pytorch2onnx.py, run by ONNX Runtime on the CPU '
        '(default: pytorch)',
    )
    parser.add_argument(
        '--device', default='cuda:0', help='cuda:0, cpu, ... (default cuda:0)'
    )
    parser.add_argument(
        '--score-thr',
        type=float,
        default=0.3,
        help='draw detections scoring above this (default: 0.3)',
    )
    parser.add_argument('--out', help='write the drawn video here')
    parser.add_argument(
        '--show', action='store_true', help='show the drawn frames'
    )
    parser.add_argument(
        '--wait-time',
        type=float,
        default=1,
        help='seconds each shown frame waits (default: 1)',
    )
    args = parser.parse_args(argv)
    if not (args.out or args.show):
        parser.error('nothing to do: give --out FILE and/or --show')
    return args


def main(argv=None):
    args = parse_args(argv)
    model = init_backend_detector(
        args.config, args.checkpoint, args.backend, device=args.device
    )
    count = detect_video(
        model,
        args.video,
        score_thr=args.score_thr,
        out_file=args.out,
        show=args.show,
        wait_time=args.wait_time,
    )
    print(f'{count} frames' + (f' drawn to {args.out}' if args.out else ''))


if __name__ == '__main__':
    main()
