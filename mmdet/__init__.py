"""MMDetection-2.x-compatible detection toolbox with ODConv backbones."""
import logging
import warnings

from .version import __version__, check_mmcv_version, digit_version


def _installed_mmcv_version():
    # mmcv imports torch.utils.cpp_extension, which warns on every start of a
    # CUDA build of torch on a machine without CUDA; that is expected here.
    logging.getLogger('torch.utils.cpp_extension').setLevel(logging.ERROR)
    # and mmcv 1.7 announces mmcv 2.0 at every import
    warnings.filterwarnings('ignore', message='On January 1, 2023, MMCV')
    try:
        import mmcv
    except ImportError:
        return None
    return getattr(mmcv, '__version__', '0.0.0')


check_mmcv_version(_installed_mmcv_version())

__all__ = ['__version__', 'digit_version']
