"""Build every config of an MMDetection 2.x config tree with this toolbox:

    python tools/misc/check_mmdet_configs.py DIR [--train-step]
        [--out report.json] [--filter GLOB ...] [--reference REF]

Prints each failing config with the exception's first line, then counts per
folder: OK, DIFF (parameters or state-dict keys/shapes differ from the
reference), FAIL, NOMODEL (fragments without a model) and, separately, the
configs whose data set / pipeline types are not registered.
"""

import argparse
import os.path as osp
import sys
import warnings

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
REFERENCE = osp.join(
    ROOT, 'tests', 'data', 'reference', 'mmdet228_configs.json.gz'
)
EPILOG = """\
MMDetection 2.28.2's config tree ships inside its wheel:
    pip download mmdet==2.28.2 --no-deps -d /tmp/mmdet
    cd /tmp/mmdet && unzip -q mmdet-2.28.2-*.whl 'mmdet/.mim/configs/*'
    python tools/misc/check_mmdet_configs.py /tmp/mmdet/mmdet/.mim/configs
"""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Build (and optionally train/test) every config of a '
        'config tree with pretrained weights off',
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument('dir', help='the config tree (e.g. MMDetection\'s)')
    parser.add_argument(
        '--train-step',
        action='store_true',
        help='also run one training step and one test on random '
        '256x256 images',
    )
    parser.add_argument('--out', help='write every result as JSON here')
    parser.add_argument(
        '--filter',
        action='append',
        help='only configs whose path (relative to DIR) matches this glob, '
        'e.g. "retinanet/*"; repeat for several',
    )
    parser.add_argument(
        '--reference',
        default=REFERENCE if osp.exists(REFERENCE) else None,
        help='MMDetection 2.28.2 params and state-dict shapes per config '
        '(default: tests/data/reference/mmdet228_configs.json.gz); '
        '"none" to skip the comparison',
    )
    parser.add_argument(
        '--quiet', action='store_true', help='no line per config as it runs'
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import torch  # after parsing: --help needs neither torch nor mmdet

    from mmdet.analysis.config_check import (
        check_tree,
        format_report,
        load_reference,
        write_json,
    )

    if not osp.isdir(args.dir):
        sys.exit(f'no such directory: {args.dir}')
    warnings.filterwarnings('ignore')
    torch.set_num_threads(1)
    use_ref = args.reference and args.reference != 'none'
    reference = load_reference(args.reference) if use_ref else None

    def progress(r):
        if not args.quiet:
            why = f" [{r['stage']}]: {r['reason']}" if r['reason'] else ''
            print(f"{r['status']:7s} {r['config']}{why}", flush=True)

    results = check_tree(
        args.dir, args.filter, reference, args.train_step, progress
    )
    print(format_report(results))
    if args.out:
        write_json(results, args.out)


if __name__ == '__main__':
    main()
