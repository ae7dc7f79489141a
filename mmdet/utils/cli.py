"""Command-line pieces shared by the tools."""

from mmcv import DictAction


class KeyValueAction(DictAction):
    """mmcv's ``DictAction`` (``key=value`` pairs into a dict) whose
    malformed items are argparse usage errors naming the item, instead of
    a ``ValueError`` from deep inside argparse."""

    def __call__(self, parser, namespace, values, option_string=None):
        for item in values:
            key = item.split('=', 1)[0]
            if '=' not in item or not key:
                parser.error(
                    f'{option_string}: {item!r} is not key=value. Write '
                    'each override as key=value without spaces around "=", '
                    'e.g. optimizer.lr=0.01 data.samples_per_gpu=4 '
                    '(lists: key="[a,b]")'
                )
        super().__call__(parser, namespace, values, option_string)
