"""Write a COCO json listing the images of a folder (no annotations), to run
tools/test.py on unlabelled images:
python tools/dataset_converters/images2coco.py data/imgs classes.txt
test.json  (written to data/imgs/../annotations/test.json)"""

import argparse
import os.path as osp

import mmcv

from mmdet.datasets.converters import collect_image_infos, images_to_coco


def parse_args():
    parser = argparse.ArgumentParser(
        description='Convert images to coco format without annotations'
    )
    parser.add_argument('img_path', help='The root path of images')
    parser.add_argument(
        'classes', type=str, help='The text file name of storage class list'
    )
    parser.add_argument(
        'out',
        type=str,
        help='The output annotation json file name, saved in '
        'img_path/../annotations',
    )
    parser.add_argument(
        '-e',
        '--exclude-extensions',
        type=str,
        nargs='+',
        help='The suffix of images to be excluded, such as "png" and "bmp"',
    )
    return parser.parse_args()


def main():
    args = parse_args()
    if not args.out.endswith('json'):
        raise SystemExit(
            f'the output file must be a json file, got {args.out}'
        )
    infos = collect_image_infos(args.img_path, args.exclude_extensions)
    coco = images_to_coco(infos, mmcv.list_from_file(args.classes))
    save_dir = osp.join(args.img_path, '..', 'annotations')
    mmcv.mkdir_or_exist(save_dir)
    save_path = osp.join(save_dir, args.out)
    mmcv.dump(coco, save_path)
    print(f'save json file: {save_path}')


if __name__ == '__main__':
    main()
