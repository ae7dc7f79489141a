"""Plugin layers MMDetection adds to mmcv's ``PLUGIN_LAYERS``."""

from .dropblock import DropBlock

__all__ = ['DropBlock']
