"""The package logger (name ``mmdet``), through mmcv's ``get_logger``."""

import inspect
import logging

from mmcv.utils import get_logger, print_log  # noqa: F401 (re-exported)


def get_root_logger(log_file=None, log_level=logging.INFO):
    """Logger named 'mmdet'; with ``log_file`` also writes there (rank 0)."""
    return get_logger(name='mmdet', log_file=log_file, log_level=log_level)


def get_caller_name():
    """Name of the function that called the caller of this function:
    ``'Class.method'`` for a method, else the function's name."""
    frame = inspect.stack()[2][0]
    owner = frame.f_locals.get('self')
    name = frame.f_code.co_name
    return f'{type(owner).__name__}.{name}' if owner is not None else name


def log_img_scale(img_scale, shape_order='hw', skip_square=False):
    """Log ``image shape: height=H, width=W in <caller>`` to the root
    logger.

    Args:
        img_scale (tuple[int]): the size, in ``shape_order``.
        shape_order (str): 'hw' or 'wh'.
        skip_square (bool): log nothing for a square size.

    Returns:
        bool: whether a line was logged.
    """
    if shape_order == 'hw':
        height, width = img_scale
    elif shape_order == 'wh':
        width, height = img_scale
    else:
        raise ValueError(
            f"shape_order must be 'hw' or 'wh', got {shape_order}"
        )
    if skip_square and height == width:
        return False
    get_root_logger().info(
        f'image shape: height={height}, width={width} in {get_caller_name()}'
    )
    return True
