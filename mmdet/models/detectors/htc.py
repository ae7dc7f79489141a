"""Hybrid Task Cascade (Chen et al., 2019)."""

from ..builder import DETECTORS
from .cascade_rcnn import CascadeRCNN


@DETECTORS.register_module()
class HybridTaskCascade(CascadeRCNN):
    """A :class:`CascadeRCNN` whose RoI head is a
    :class:`~mmdet.models.roi_heads.HybridTaskCascadeRoIHead`; training
    batches may carry ``gt_semantic_seg`` (B, 1, H/8, W/8) for its
    semantic branch."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)

    @property
    def with_semantic(self):
        """Whether the RoI head has a semantic segmentation branch."""
        return self.roi_head.with_semantic
