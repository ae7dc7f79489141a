"""Sampling mask logits at continuous points (PointRend, Mask2Former)."""

import torch
import torch.nn.functional as F

from mmdet.utils.arg_errors import check_arg


def point_sample(input, points, align_corners=False, **kwargs):
    """Bilinear values of ``input`` (N, C, H, W) at ``points`` (N, P, 2)
    or (N, Hp, Wp, 2), ``x, y`` in [0, 1] -> (N, C, P) or (N, C, Hp, Wp);
    zero outside (mmcv.ops.point_sample)."""
    flat = points.dim() == 3
    grid = points.unsqueeze(2) if flat else points
    out = F.grid_sample(
        input, 2.0 * grid - 1.0, align_corners=align_corners, **kwargs
    )
    return out.squeeze(3) if flat else out


def get_uncertainty(mask_pred, labels):
    """Minus the absolute logit of the given class: (N, C, P) logits and
    (N,) labels -> (N, 1, P); 0 is the most uncertain. With C == 1 the
    labels are ignored."""
    if mask_pred.shape[1] == 1:
        logits = mask_pred.clone()
    else:
        rows = torch.arange(mask_pred.shape[0], device=mask_pred.device)
        logits = mask_pred[rows, labels].unsqueeze(1)
    return -logits.abs()


def get_uncertain_point_coords_with_randomness(
    mask_pred, labels, num_points, oversample_ratio, importance_sample_ratio
):
    """(N, num_points, 2) points in [0, 1]: the most uncertain
    ``importance_sample_ratio`` share of ``num_points * oversample_ratio``
    random points of each (N, C, H, W) mask logit map, then fresh random
    points."""
    check_arg(
        oversample_ratio >= 1 and 0 <= importance_sample_ratio <= 1,
        'get_uncertain_point_coords_with_randomness',
        'oversample_ratio >= 1 and importance_sample_ratio in [0, 1]',
    )
    n = mask_pred.shape[0]
    num_sampled = int(num_points * oversample_ratio)
    coords = torch.rand(n, num_sampled, 2, device=mask_pred.device)
    uncertainty = get_uncertainty(point_sample(mask_pred, coords), labels)
    num_uncertain = int(importance_sample_ratio * num_points)
    idx = uncertainty[:, 0, :].topk(num_uncertain, dim=1)[1]
    coords = torch.gather(coords, 1, idx[..., None].expand(-1, -1, 2))
    num_random = num_points - num_uncertain
    if num_random > 0:
        extra = torch.rand(n, num_random, 2, device=mask_pred.device)
        coords = torch.cat([coords, extra], dim=1)
    return coords
