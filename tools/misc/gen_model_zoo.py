"""Write the generated parts of docs/model_zoo.md (tables, footnotes and
evaluation commands) from configs/odconv/metafile.yml:

    python tools/misc/gen_model_zoo.py            # rewrite the page
    python tools/misc/gen_model_zoo.py --check    # exit 1 if it is stale

Edit the numbers in the metafile, never in the page.
"""

import argparse
import sys

from mmdet.analysis.model_zoo_page import fill_page, generated_parts


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Generate the model zoo tables from the metafile'
    )
    parser.add_argument('--metafile', default='configs/odconv/metafile.yml')
    parser.add_argument('--page', default='docs/model_zoo.md')
    parser.add_argument(
        '--check',
        action='store_true',
        help='do not write; exit 1 when the page differs from the metafile',
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    with open(args.page, encoding='utf-8') as f:
        page = f.read()
    new = fill_page(page, generated_parts(args.metafile))
    if args.check:
        if new != page:
            print(
                f'{args.page} is stale: run python tools/misc/'
                'gen_model_zoo.py',
                file=sys.stderr,
            )
            sys.exit(1)
        print(f'{args.page} is current')
        return
    with open(args.page, 'w', encoding='utf-8') as f:
        f.write(new)
    print(f'wrote {args.page}' + (' (unchanged)' if new == page else ''))


if __name__ == '__main__':
    main()
