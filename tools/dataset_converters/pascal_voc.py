"""Convert PASCAL VOC XML annotations to MMDetection's middle format (.pkl)
or COCO json: python tools/dataset_converters/pascal_voc.py
data/VOCdevkit -o data/VOCdevkit/annotations --out-format coco"""

import argparse

from mmdet.datasets.converters import convert_voc


def parse_args():
    parser = argparse.ArgumentParser(
        description='Convert PASCAL VOC annotations to mmdetection format'
    )
    parser.add_argument('devkit_path', help='pascal voc devkit path')
    parser.add_argument('-o', '--out-dir', help='output path')
    parser.add_argument(
        '--out-format',
        default='pkl',
        choices=('pkl', 'coco'),
        help='output format, "coco" indicates coco annotation format',
    )
    return parser.parse_args()


def main():
    args = parse_args()
    for path in convert_voc(args.devkit_path, args.out_dir, args.out_format):
        print(f'wrote {path}')
    print('Done!')


if __name__ == '__main__':
    main()
