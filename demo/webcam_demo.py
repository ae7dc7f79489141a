"""Detect objects in a camera's frames and show them (Esc or q quits):

    python demo/webcam_demo.py CONFIG CHECKPOINT --device cpu --camera-id 0

--camera-id also takes a video file or stream URL in place of a camera.
"""

import argparse

from mmdet.apis import detect_video, init_detector


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Run a detector on a camera and show its detections'
    )
    parser.add_argument('config', help='the detector\'s config file')
    parser.add_argument('checkpoint', help='its checkpoint file')
    parser.add_argument(
        '--device', default='cuda:0', help='cuda:0, cpu, ... (default cuda:0)'
    )
    parser.add_argument(
        '--camera-id',
        default='0',
        help='camera index (default: 0), or a video file / stream URL',
    )
    parser.add_argument(
        '--score-thr',
        type=float,
        default=0.5,
        help='draw detections scoring above this (default: 0.5)',
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    model = init_detector(args.config, args.checkpoint, device=args.device)
    print('Press Esc or q to quit.')
    count = detect_video(
        model,
        args.camera_id,
        score_thr=args.score_thr,
        show=True,
        win_name='webcam',
    )
    print(f'{count} frames')


if __name__ == '__main__':
    main()
