"""SOLO and SOLOv2 (`SOLO: Segmenting Objects by Locations`,
https://arxiv.org/abs/1912.04488; SOLOv2, https://arxiv.org/abs/2003.10152)."""

from ..builder import DETECTORS
from .single_stage_instance_seg import SingleStageInstanceSegmentor


@DETECTORS.register_module()
class SOLO(SingleStageInstanceSegmentor):
    """SOLO: a ``SOLOHead`` family mask head, no box head."""


@DETECTORS.register_module()
class SOLOv2(SingleStageInstanceSegmentor):
    """SOLOv2: a ``SOLOV2Head`` mask head, no box head."""
