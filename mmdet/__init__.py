"""MMDetection-2.x-compatible detection toolbox with ODConv backbones."""

import logging
import warnings

from .version import (
    MMCV_MAX,
    MMCV_MIN,
    __version__,
    check_mmcv_version,
    digit_version,
    short_version,
    version_info,
)

# MMDetection 2.x's names of the supported mmcv range (max exclusive)
mmcv_minimum_version = MMCV_MIN
mmcv_maximum_version = MMCV_MAX


def _installed_mmcv_version():
    """The installed mmcv's version (None without mmcv), imported quietly:
    mmcv 1.7 announces mmcv 2.0 at every import, and its import of
    torch.utils.cpp_extension warns on a CUDA build of torch without CUDA.
    The process's warning filters and log levels are left as they were."""
    cpp_logger = logging.getLogger('torch.utils.cpp_extension')
    level = cpp_logger.level
    cpp_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                'ignore', message='On January 1, 2023, MMCV'
            )
            import mmcv
    except ImportError:
        return None
    finally:
        cpp_logger.setLevel(level)
    return getattr(mmcv, '__version__', '0.0.0')


check_mmcv_version(_installed_mmcv_version())

__all__ = ['__version__', 'digit_version', 'short_version', 'version_info']
