"""Convert Cityscapes' instance annotations to COCO json (needs
``pip install cityscapesscripts``):
python tools/dataset_converters/cityscapes.py data/cityscapes --nproc 8
--out-dir data/cityscapes/annotations"""

import argparse

from mmdet.datasets.converters import convert_cityscapes


def parse_args():
    parser = argparse.ArgumentParser(
        description='Convert Cityscapes annotations to COCO format'
    )
    parser.add_argument('cityscapes_path', help='cityscapes data path')
    parser.add_argument('--img-dir', default='leftImg8bit', type=str)
    parser.add_argument('--gt-dir', default='gtFine', type=str)
    parser.add_argument('-o', '--out-dir', help='output path')
    parser.add_argument(
        '--nproc', default=1, type=int, help='number of process'
    )
    return parser.parse_args()


def main():
    args = parse_args()
    for path in convert_cityscapes(
        args.cityscapes_path,
        args.img_dir,
        args.gt_dir,
        args.out_dir,
        args.nproc,
    ):
        print(f'wrote {path}')


if __name__ == '__main__':
    main()
