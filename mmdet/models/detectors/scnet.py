"""SCNet (Vu et al., AAAI 2021)."""

from ..builder import DETECTORS
from .htc import HybridTaskCascade


@DETECTORS.register_module()
class SCNet(HybridTaskCascade):
    """HTC's detector with :class:`SCNetRoIHead`."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
