"""The package logger (name ``mmdet``), through mmcv's ``get_logger``."""

import logging

from mmcv.utils import get_logger, print_log  # noqa: F401 (re-exported)


def get_root_logger(log_file=None, log_level=logging.INFO):
    """Logger named 'mmdet'; with ``log_file`` also writes there (rank 0)."""
    return get_logger(name='mmdet', log_file=log_file, log_level=log_level)
