"""Write the image metas (file name and original shape) of a config's test
set, the ``meta_file`` that Open Images evaluation reads:
python tools/misc/get_image_metas.py
configs/openimages/faster_rcnn_r50_fpn_32x2_1x_openimages.py
--out data/OpenImages/annotations/validation-image-metas.pkl"""

import argparse

import mmcv
from mmcv import Config, DictAction

from mmdet.datasets import build_dataset


def parse_args():
    parser = argparse.ArgumentParser(description='Collect image metas')
    parser.add_argument('config', help='Config file path')
    parser.add_argument(
        '--out',
        default='validation-image-metas.pkl',
        help='the output .pkl path',
    )
    parser.add_argument(
        '--nproc',
        default=4,
        type=int,
        help='accepted as in MMDetection (sizes are read serially)',
    )
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    test = dict(cfg.data.test, pipeline=[])
    dataset = build_dataset(test, dict(test_mode=True))
    metas = dataset.image_metas()
    mmcv.dump(metas, args.out, file_format='pkl')
    print(f'wrote the metas of {len(metas)} images to {args.out}')


if __name__ == '__main__':
    main()
