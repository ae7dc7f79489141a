"""Make a release file from a training checkpoint:

    python tools/model_converters/publish_model.py \
        work_dirs/mask_rcnn_r50_fpn_1x_coco/latest.pth mask_rcnn_r50.pth
    # -> mask_rcnn_r50-<first 8 hex digits of its sha256>.pth

The optimizer state is dropped; meta (classes, config) and weights stay.
"""

import argparse

from mmdet.utils.checkpoint_publish import publish_checkpoint


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Strip a checkpoint for release and name it by hash'
    )
    parser.add_argument('in_file', help='the training checkpoint')
    parser.add_argument(
        'out_file', help='output name; the hash is appended before .pth'
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    print(f'published {publish_checkpoint(args.in_file, args.out_file)}')


if __name__ == '__main__':
    main()
