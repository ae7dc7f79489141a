"""MMDetection-2.x-compatible detection toolbox with ODConv backbones."""
from .version import __version__, check_mmcv_version


def _installed_mmcv_version():
    try:
        import mmcv
    except ImportError:
        return None
    return getattr(mmcv, '__version__', '0.0.0')


check_mmcv_version(_installed_mmcv_version())

__all__ = ['__version__']
