"""Gaussian heatmap targets and heatmap peak decoding of the keypoint
heads (CornerNet, CenterNet), under MMDetection 2.28's names."""

from math import sqrt

import torch
import torch.nn.functional as F


def gaussian2D(radius, sigma=1, dtype=torch.float32, device='cpu'):
    """(2r+1, 2r+1) kernel ``exp(-(x^2 + y^2) / (2 sigma^2))``, values
    below ``eps * max`` set to 0."""
    r = torch.arange(-radius, radius + 1, dtype=dtype, device=device)
    h = torch.exp(-(r[None, :] ** 2 + r[:, None] ** 2) / (2 * sigma * sigma))
    h[h < torch.finfo(h.dtype).eps * h.max()] = 0
    return h


def gen_gaussian_target(heatmap, center, radius, k=1):
    """Write ``max(heatmap, k * gaussian)`` in place around ``center``.

    Args:
        heatmap (Tensor): (H, W), modified in place and returned.
        center (list[int]): integer ``(x, y)``.
        radius (int): kernel radius; sigma is ``(2 radius + 1) / 6``.
        k (float): peak value.
    """
    kernel = gaussian2D(
        radius,
        sigma=(2 * radius + 1) / 6,
        dtype=heatmap.dtype,
        device=heatmap.device,
    )
    x, y = center
    height, width = heatmap.shape[:2]
    left, right = min(x, radius), min(width - x, radius + 1)
    top, bottom = min(y, radius), min(height - y, radius + 1)
    window = heatmap[y - top : y + bottom, x - left : x + right]
    patch = kernel[
        radius - top : radius + bottom, radius - left : radius + right
    ]
    torch.max(window, patch * k, out=window)
    return heatmap


def gaussian_radius(det_size, min_overlap):
    """Largest corner displacement r keeping IoU >= ``min_overlap`` with a
    (h, w) box: the smallest root over three cases (one corner inside and
    one outside, both inside, both outside the box)."""
    height, width = det_size
    s, area, iou = height + width, height * width, min_overlap
    # r^2 - s r + area (1 - iou) / (1 + iou) = 0
    r1 = (s - sqrt(s**2 - 4 * area * (1 - iou) / (1 + iou))) / 2
    # 4 r^2 - 2 s r + (1 - iou) area = 0
    r2 = (2 * s - sqrt(4 * s**2 - 16 * (1 - iou) * area)) / 8
    # 4 iou r^2 + 2 iou s r + (iou - 1) area = 0
    b3 = -2 * iou * s
    r3 = (b3 + sqrt(b3**2 - 16 * iou * (iou - 1) * area)) / (8 * iou)
    return min(r1, r2, r3)


def get_local_maximum(heat, kernel=3):
    """(B, C, H, W) heatmap with every value that is not the maximum of
    its ``kernel`` x ``kernel`` window set to 0."""
    pad = (kernel - 1) // 2
    hmax = F.max_pool2d(heat, kernel, stride=1, padding=pad)
    return heat * (hmax == heat).float()


def get_topk_from_heatmap(scores, k=20):
    """The k best (class, position) of a (B, C, H, W) heatmap.

    Returns:
        tuple[Tensor]: each (B, k): scores, flat position index (in H*W),
        class, y, x (float).
    """
    batch, _, height, width = scores.size()
    topk_scores, topk_inds = torch.topk(scores.view(batch, -1), k)
    topk_clses = topk_inds // (height * width)
    topk_inds = topk_inds % (height * width)
    topk_ys = topk_inds // width
    topk_xs = (topk_inds % width).int().float()
    return topk_scores, topk_inds, topk_clses, topk_ys, topk_xs


def gather_feat(feat, ind, mask=None):
    """Rows ``ind`` (B, k) of ``feat`` (B, N, D) -> (B, k, D); with a
    (B, k) bool ``mask`` only the masked rows, (m, D)."""
    dim = feat.size(2)
    feat = feat.gather(1, ind.unsqueeze(2).expand(*ind.shape, dim))
    if mask is not None:
        feat = feat[mask.unsqueeze(2).expand_as(feat)].view(-1, dim)
    return feat


def transpose_and_gather_feat(feat, ind):
    """Channels at flat positions ``ind`` (B, k) of a (B, D, H, W) map ->
    (B, k, D)."""
    b, d = feat.shape[:2]
    feat = feat.permute(0, 2, 3, 1).reshape(b, -1, d)
    return gather_feat(feat, ind)
