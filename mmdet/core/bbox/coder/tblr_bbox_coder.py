"""Top-bottom-left-right box coder (FSAF, GuidedAnchoring)."""

import torch

from ..builder import BBOX_CODERS
from ..transforms import clip_bboxes
from .base_bbox_coder import BaseBBoxCoder


def _normalizer(normalizer, like):
    """A float, or a (4,) tensor for per-side normalizers."""
    if isinstance(normalizer, float):
        return normalizer
    norm = like.new_tensor(normalizer)
    assert len(norm) == 4, 'normalizer must be a float or have 4 values'
    return norm


def bboxes2tblr(priors, gts, normalizer=4.0, normalize_by_wh=True):
    """Distances ``top, bottom, left, right`` (N, 4) from the centers of
    (N, 4) ``priors`` to the sides of (N, 4) ``gts``, divided by the
    prior's height (top, bottom) / width (left, right) and ``normalizer``."""
    assert priors.size(0) == gts.size(0)
    center = (priors[:, :2] + priors[:, 2:]) / 2
    cx, cy = center[:, :1], center[:, 1:]
    x1, y1, x2, y2 = gts.split(1, dim=1)
    loc = torch.cat((cy - y1, y2 - cy, cx - x1, x2 - cx), dim=1)
    if normalize_by_wh:
        wh = priors[:, 2:] - priors[:, :2]
        loc = loc / torch.cat([wh[:, 1:], wh[:, 1:], wh[:, :1], wh[:, :1]], 1)
    return loc / _normalizer(normalizer, priors)


def tblr2bboxes(
    priors,
    tblr,
    normalizer=4.0,
    normalize_by_wh=True,
    max_shape=None,
    clip_border=True,
):
    """Inverse of :func:`bboxes2tblr` for (..., N, 4) priors and
    distances; clipped to ``max_shape`` (H, W) when ``clip_border``."""
    assert priors.size(0) == tblr.size(0)
    loc = tblr * _normalizer(normalizer, priors)
    if normalize_by_wh:
        wh = priors[..., 2:] - priors[..., :2]
        w, h = wh[..., :1], wh[..., 1:]
        loc = torch.cat([h * loc[..., :2], w * loc[..., 2:]], dim=-1)
    top, bottom, left, right = loc.split(1, dim=-1)
    center = (priors[..., :2] + priors[..., 2:]) / 2
    cx, cy = center[..., :1], center[..., 1:]
    bboxes = torch.cat((cx - left, cy - top, cx + right, cy + bottom), -1)
    if clip_border and max_shape is not None:
        bboxes = clip_bboxes(bboxes, max_shape)
    return bboxes


@BBOX_CODERS.register_module()
class TBLRBBoxCoder(BaseBBoxCoder):
    """Boxes as normalized distances from a prior's center to their sides.

    Args:
        normalizer (float | list[float]): divides the encoded distances.
        clip_border (bool): clip decoded boxes to the image.
    """

    def __init__(self, normalizer=4.0, clip_border=True):
        super().__init__()
        self.normalizer = normalizer
        self.clip_border = clip_border

    def encode(self, bboxes, gt_bboxes):
        """(N, 4) priors and (N, 4) gt boxes -> (N, 4) tblr targets."""
        assert bboxes.size(0) == gt_bboxes.size(0)
        assert bboxes.size(-1) == gt_bboxes.size(-1) == 4
        return bboxes2tblr(bboxes, gt_bboxes, normalizer=self.normalizer)

    def decode(self, bboxes, pred_bboxes, max_shape=None):
        """(B, N, 4) or (N, 4) priors and tblr predictions -> boxes."""
        return tblr2bboxes(
            bboxes,
            pred_bboxes,
            normalizer=self.normalizer,
            max_shape=max_shape,
            clip_border=self.clip_border,
        )
