"""Point sampling of PointRend (mmcv.ops.point_sample and helpers, and
MMDetection's uncertainty sampling) on ``F.grid_sample``.

Coordinates: *relative RoI points* are (x, y) in [0, 1] of a box,
*absolute image points* are input pixels, *relative image points* are
(x, y) in [0, 1] of a feature map (its width and height).
"""

import torch
import torch.nn.functional as F

from mmdet.utils.arg_errors import check_arg


def point_sample(input, points, align_corners=False, **kwargs):
    """Bilinear values of ``input`` (N, C, H, W) at ``points`` (N, P, 2) or
    (N, Hp, Wp, 2) in [0, 1] -> (N, C, P) or (N, C, Hp, Wp); zero outside
    (``grid_sample``'s defaults, overridable by ``kwargs``)."""
    flat = points.dim() == 3
    grid = points.unsqueeze(2) if flat else points
    out = F.grid_sample(
        input, 2.0 * grid - 1.0, align_corners=align_corners, **kwargs
    )
    return out.squeeze(3) if flat else out


def rel_roi_point_to_abs_img_point(rois, rel_roi_points):
    """(N, P, 2) RoI-relative points of (N, 4 or 5) ``rois`` -> input
    pixels (no gradient)."""
    with torch.no_grad():
        boxes = rois[:, 1:] if rois.size(1) == 5 else rois
        xs = rel_roi_points[..., 0] * (boxes[:, None, 2] - boxes[:, None, 0])
        ys = rel_roi_points[..., 1] * (boxes[:, None, 3] - boxes[:, None, 1])
        xs = xs + boxes[:, None, 0]
        ys = ys + boxes[:, None, 1]
        return torch.stack([xs, ys], dim=2)


def _map_size(img, device):
    """(1, 1, 2) ``(w, h)`` of a (h, w) tuple, ``torch.Size`` or map."""
    if isinstance(img, torch.Tensor):
        check_arg(img.dim() == 4, 'point_sample', 'needs an (N, C, H, W) map')
        h, w = img.shape[2:]
    else:
        check_arg(len(img) == 2, 'point_sample', f'needs (h, w), got {img}')
        h, w = img
    return torch.tensor([w, h], dtype=torch.float, device=device).view(1, 1, 2)


def abs_img_point_to_rel_img_point(abs_img_points, img, spatial_scale=1.0):
    """Input pixels -> [0, 1] of the map ``img`` ((h, w) or (N, C, H, W))
    that has ``spatial_scale`` map pixels per input pixel."""
    scale = _map_size(img, abs_img_points.device)
    return abs_img_points / scale * spatial_scale


def rel_roi_point_to_rel_img_point(
    rois, rel_roi_points, img, spatial_scale=1.0
):
    """(N, P, 2) RoI-relative points -> [0, 1] of the map ``img``."""
    abs_points = rel_roi_point_to_abs_img_point(rois, rel_roi_points)
    return abs_img_point_to_rel_img_point(abs_points, img, spatial_scale)


def get_uncertainty(mask_pred, labels):
    """-|logit| of each RoI's class (or the single class-agnostic channel):
    (N, C, ...) -> (N, 1, ...), highest where the mask is least sure."""
    if mask_pred.size(1) == 1:
        logits = mask_pred.clone()
    else:
        rows = torch.arange(mask_pred.size(0), device=mask_pred.device)
        logits = mask_pred[rows, labels].unsqueeze(1)
    return -logits.abs()


def get_uncertain_point_coords_with_randomness(
    mask_pred, labels, num_points, oversample_ratio, importance_sample_ratio
):
    """(N, num_points, 2) RoI-relative training points: the most uncertain
    ``importance_sample_ratio`` of ``oversample_ratio * num_points`` random
    candidates, then uniform random points."""
    check_arg(oversample_ratio >= 1, 'PointRend', 'oversample_ratio < 1')
    check_arg(
        0 <= importance_sample_ratio <= 1,
        'PointRend',
        'importance_sample_ratio outside [0, 1]',
    )
    n = mask_pred.size(0)
    num_sampled = int(num_points * oversample_ratio)
    coords = torch.rand(n, num_sampled, 2, device=mask_pred.device)
    uncertainty = get_uncertainty(point_sample(mask_pred, coords), labels)
    num_uncertain = int(importance_sample_ratio * num_points)
    idx = uncertainty[:, 0].topk(num_uncertain, dim=1)[1]
    coords = coords.gather(1, idx[..., None].expand(-1, -1, 2))
    num_random = num_points - num_uncertain
    if num_random > 0:
        extra = torch.rand(n, num_random, 2, device=mask_pred.device)
        coords = torch.cat([coords, extra], dim=1)
    return coords
