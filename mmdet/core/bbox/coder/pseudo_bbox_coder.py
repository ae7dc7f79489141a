from ..builder import BBOX_CODERS
from .base_bbox_coder import BaseBBoxCoder


@BBOX_CODERS.register_module()
class PseudoBBoxCoder(BaseBBoxCoder):
    """The identity coder: targets are the gt boxes, predictions boxes."""

    def encode(self, bboxes, gt_bboxes):
        """Return ``gt_bboxes`` unchanged."""
        return gt_bboxes

    def decode(self, bboxes, pred_bboxes):
        """Return ``pred_bboxes`` unchanged."""
        return pred_bboxes
