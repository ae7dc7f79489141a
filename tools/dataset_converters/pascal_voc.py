"""Convert Pascal VOC XML annotations (VOCdevkit layout) to MMDetection's
middle format (.pkl, for CustomDataset) or to COCO files (.json):

    python tools/dataset_converters/pascal_voc.py data/VOCdevkit \
        -o data/VOCdevkit/annotations --out-format coco

Every VOC<year>/ folder of the devkit (or the devkit itself when it holds
Annotations/) and every split list of its ImageSets/Main/ (train, val,
trainval, test) gives one file, e.g. voc07_trainval.json. Image paths are
relative to the year folder (JPEGImages/<id>.jpg): use it as img_prefix.
--classes names your own classes (default: VOC's 20).
"""

import argparse
import os
import os.path as osp

import mmcv

from mmdet.datasets.voc_convert import load_voc_split, middle_to_coco

SPLITS = ('train', 'val', 'trainval', 'test')


def year_dirs(devkit):
    if osp.isdir(osp.join(devkit, 'Annotations')):
        return [devkit]
    found = [
        osp.join(devkit, name)
        for name in sorted(os.listdir(devkit))
        if name.startswith('VOC')
        and osp.isdir(osp.join(devkit, name, 'Annotations'))
    ]
    if not found:
        raise FileNotFoundError(
            f'{devkit!r} holds no VOC<year>/Annotations/ folder (nor '
            'Annotations/ itself): give the VOCdevkit folder'
        )
    return found


def prefix(year_dir):
    name = osp.basename(osp.normpath(year_dir))
    if name.startswith('VOC') and name[3:].isdigit():
        return f'voc{name[-2:]}'
    return name


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert Pascal VOC annotations to the middle format '
        'or COCO files'
    )
    parser.add_argument('devkit_path', help='the VOCdevkit folder')
    parser.add_argument('-o', '--out-dir', help='output folder')
    parser.add_argument(
        '--out-format',
        default='pkl',
        choices=('pkl', 'coco'),
        help='pkl: middle format (CustomDataset); coco: COCO json',
    )
    parser.add_argument(
        '--classes', nargs='+', help='class names (default: VOC\'s 20)'
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    out_dir = args.out_dir or args.devkit_path
    mmcv.mkdir_or_exist(out_dir)
    for year_dir in year_dirs(args.devkit_path):
        for split in SPLITS:
            if not osp.isfile(
                osp.join(year_dir, 'ImageSets', 'Main', f'{split}.txt')
            ):
                continue
            infos = load_voc_split(year_dir, split, args.classes)
            if args.out_format == 'coco':
                data, ext = middle_to_coco(infos, args.classes), 'json'
            else:
                data, ext = infos, 'pkl'
            out = osp.join(out_dir, f'{prefix(year_dir)}_{split}.{ext}')
            mmcv.dump(data, out)
            print(f'{len(infos)} images -> {out}')


if __name__ == '__main__':
    main()
