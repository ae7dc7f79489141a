"""Point-to-side distance box coder."""

from ..builder import BBOX_CODERS
from ..transforms import bbox2distance, distance2bbox
from .base_bbox_coder import BaseBBoxCoder


@BBOX_CODERS.register_module()
class DistancePointBBoxCoder(BaseBBoxCoder):
    """Boxes as the distances ``left, top, right, bottom`` from a point to
    their sides (FCOS).

    Args:
        clip_border (bool): clip decoded boxes to the image.
    """

    def __init__(self, clip_border=True):
        super().__init__()
        self.clip_border = clip_border

    def encode(self, points, gt_bboxes, max_dis=None, eps=0.1):
        """(N, 2) points and (N, 4) boxes -> (N, 4) distances, clamped to
        ``[0, max_dis - eps]`` when ``max_dis`` is given."""
        assert points.size(0) == gt_bboxes.size(0)
        assert points.size(-1) == 2 and gt_bboxes.size(-1) == 4
        return bbox2distance(points, gt_bboxes, max_dis, eps)

    def decode(self, points, pred_bboxes, max_shape=None):
        """(..., N, 2) points and (..., N, 4) distances -> (..., N, 4)
        boxes, clipped to ``max_shape`` (H, W) if ``clip_border``."""
        assert points.size(-2) == pred_bboxes.size(-2)
        assert points.size(-1) == 2 and pred_bboxes.size(-1) == 4
        if not self.clip_border:
            max_shape = None
        return distance2bbox(points, pred_bboxes, max_shape)
