"""Plot curves from, or time, MMDetection ``.log.json`` training logs:

    python tools/analysis_tools/analyze_logs.py plot_curve LOG.json [...] \
        --keys loss_cls loss_bbox --legend run_a_cls run_a_bbox --out l.png
    python tools/analysis_tools/analyze_logs.py plot_curve LOG.json \
        --keys bbox_mAP segm_mAP --out map.pdf
    python tools/analysis_tools/analyze_logs.py cal_train_time LOG.json
"""

import argparse

from mmdet.utils.log_analysis import plot_curve, train_time_stats


def add_plot_parser(subparsers):
    parser = subparsers.add_parser(
        'plot_curve', help='plot values of the logs (losses, mAP, lr, ...)'
    )
    parser.add_argument('json_logs', nargs='+', help='.log.json files')
    parser.add_argument(
        '--keys',
        nargs='+',
        default=['bbox_mAP'],
        help='what to plot (default: bbox_mAP)',
    )
    parser.add_argument(
        '--start-epoch',
        type=int,
        default=1,
        help='plot from this epoch on (default: 1)',
    )
    parser.add_argument(
        '--eval-interval',
        type=int,
        default=1,
        help='epochs between evaluations; kept for '
        'MMDetection compatibility (the evaluated epochs '
        'are read from the logs)',
    )
    parser.add_argument('--title', help='figure title')
    parser.add_argument(
        '--legend',
        nargs='+',
        help='one label per log and key, logs outer '
        '(default: <log name>_<key>)',
    )
    parser.add_argument(
        '--backend', help='matplotlib backend (default: Agg with --out)'
    )
    parser.add_argument(
        '--style',
        default='dark',
        help='matplotlib or seaborn style (default: dark)',
    )
    parser.add_argument(
        '--out',
        help='save the figure here (.png, .pdf, ...) instead of showing it',
    )


def add_time_parser(subparsers):
    parser = subparsers.add_parser(
        'cal_train_time', help='average seconds per training iteration'
    )
    parser.add_argument('json_logs', nargs='+', help='.log.json files')
    parser.add_argument(
        '--include-outliers',
        action='store_true',
        help='also count the first logged interval of each '
        'epoch (slowed by data loader start-up)',
    )


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Analyze MMDetection .log.json training logs'
    )
    subparsers = parser.add_subparsers(dest='task', required=True)
    add_plot_parser(subparsers)
    add_time_parser(subparsers)
    return parser.parse_args(argv)


def print_train_time(path, include_outliers):
    stats = train_time_stats(path, include_outliers)
    means = stats['epoch_means']
    # MMDetection 2.28's wording
    print(f'-----Analyze train time of {path}-----')
    print(
        f'slowest epoch {stats["slowest_epoch"]}, average time is '
        f'{means[stats["slowest_epoch"]]:.4f}'
    )
    print(
        f'fastest epoch {stats["fastest_epoch"]}, average time is '
        f'{means[stats["fastest_epoch"]]:.4f}'
    )
    print(f'time std over epochs is {stats["std_over_epochs"]:.4f}')
    print(f'average iter time: {stats["mean"]:.4f} s/iter\n')


def main(argv=None):
    args = parse_args(argv)
    if args.task == 'plot_curve':
        for path in args.json_logs:
            for key in args.keys:
                print(f'plot curve of {path}, metric is {key}')
        plot_curve(
            args.json_logs,
            args.keys,
            legend=args.legend,
            title=args.title,
            backend=args.backend,
            style=args.style,
            out=args.out,
            start_epoch=args.start_epoch,
        )
        if args.out:
            print(f'save curve to: {args.out}')
    else:
        for path in args.json_logs:
            print_train_time(path, args.include_outliers)


if __name__ == '__main__':
    main()
