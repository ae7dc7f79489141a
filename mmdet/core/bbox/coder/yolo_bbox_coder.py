"""YOLOv3 box coder: grid-cell center offsets and log size ratios."""

import torch

from ..builder import BBOX_CODERS
from ..transforms import bbox_xyxy_to_cxcywh
from .base_bbox_coder import BaseBBoxCoder


@BBOX_CODERS.register_module()
class YOLOBBoxCoder(BaseBBoxCoder):
    """Encodes a box as ``(dx / stride + 0.5, dy / stride + 0.5,
    log(w_gt / w), log(h_gt / h))`` relative to its anchor.

    Args:
        eps (float): clamps the center offsets into ``(0, 1)`` and the size
            ratios above 0.
    """

    def __init__(self, eps=1e-6):
        super().__init__()
        self.eps = eps

    def encode(self, bboxes, gt_bboxes, stride):
        """(N, 4) anchors, (N, 4) gt boxes, stride (N,) or scalar ->
        (N, 4) targets."""
        assert bboxes.size(0) == gt_bboxes.size(0)
        assert bboxes.size(-1) == gt_bboxes.size(-1) == 4
        gt = bbox_xyxy_to_cxcywh(gt_bboxes)
        anchor = bbox_xyxy_to_cxcywh(bboxes)
        eps = self.eps
        wh = torch.log((gt[..., 2:] / anchor[..., 2:]).clamp(min=eps))
        offset = (gt[..., :2] - anchor[..., :2]) / _col(stride) + 0.5
        return torch.cat([offset.clamp(eps, 1 - eps), wh], dim=-1)

    def decode(self, bboxes, pred_bboxes, stride):
        """(..., 4) anchors and predictions, stride broadcastable to
        (..., 2) (e.g. (N, 1) or a scalar) -> (..., 4) boxes."""
        assert pred_bboxes.size(-1) == bboxes.size(-1) == 4
        centers = (bboxes[..., :2] + bboxes[..., 2:]) * 0.5
        centers = centers + (pred_bboxes[..., :2] - 0.5) * stride
        half_wh = (bboxes[..., 2:] - bboxes[..., :2]) * 0.5
        half_wh = half_wh * pred_bboxes[..., 2:].exp()
        return torch.cat([centers - half_wh, centers + half_wh], dim=-1)


def _col(stride):
    """A per-box stride (...,) as (..., 1) so it scales both x and y."""
    if isinstance(stride, torch.Tensor) and stride.dim() > 0:
        return stride.unsqueeze(-1)
    return stride
