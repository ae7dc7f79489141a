"""Mask predictions into the original image (the one place of it, for the
mask heads and the ONNX Runtime detector): box-relative masks pasted at
their boxes, and the image-level masks of the box-free heads resized."""

import torch
import torch.nn.functional as F


def paste_masks(masks, boxes, img_h, img_w, skip_empty=True):
    """Paste box-relative masks into an image by bilinear sampling.

    Image pixel ``(y, x)`` has its centre at ``(y + 0.5, x + 0.5)``; it
    samples the mask at that point's position relative to the box, the
    mask covering the box exactly (``grid_sample`` with
    ``align_corners=False``, zero outside the mask).

    Args:
        masks (Tensor): (N, 1, h, w) mask probabilities.
        boxes (Tensor): (N, 4) boxes ``x1, y1, x2, y2`` in image pixels.
        img_h, img_w (int): image size.
        skip_empty (bool): compute only the part of the image around the
            boxes (plus a one-pixel margin) instead of all of it.

    Returns:
        tuple[Tensor, tuple]: (N, h', w') pasted probabilities and the
        region of the image they cover, as a tuple of slices (empty for
        the whole image).
    """
    if skip_empty:
        x0_int, y0_int = (
            torch.clamp(boxes.min(dim=0).values.floor()[:2] - 1, min=0)
            .int()
            .tolist()
        )
        x1_int = int(torch.clamp(boxes[:, 2].max().ceil() + 1, max=img_w))
        y1_int = int(torch.clamp(boxes[:, 3].max().ceil() + 1, max=img_h))
        # boxes wholly right of / below the image (unclipped predictions,
        # e.g. Sparse R-CNN's) cover an empty region instead of failing
        x0_int, y0_int = min(x0_int, x1_int), min(y0_int, y1_int)
    else:
        x0_int, y0_int, x1_int, y1_int = 0, 0, img_w, img_h
    x0, y0, x1, y1 = boxes.float().split(1, dim=1)  # each (N, 1)
    device = masks.device
    centres_y = torch.arange(y0_int, y1_int, device=device).float() + 0.5
    centres_x = torch.arange(x0_int, x1_int, device=device).float() + 0.5
    # box-relative coordinates in [-1, 1], (N, h') and (N, w')
    grid_y = (centres_y - y0) / (y1 - y0) * 2 - 1
    grid_x = (centres_x - x0) / (x1 - x0) * 2 - 1
    # a degenerate (zero-size) box divides by zero: sample its centre
    grid_y = torch.where(torch.isinf(grid_y), torch.zeros_like(grid_y), grid_y)
    grid_x = torch.where(torch.isinf(grid_x), torch.zeros_like(grid_x), grid_x)
    num = masks.size(0)
    grid = torch.stack(
        [
            grid_x[:, None, :].expand(num, grid_y.size(1), grid_x.size(1)),
            grid_y[:, :, None].expand(num, grid_y.size(1), grid_x.size(1)),
        ],
        dim=3,
    )
    pasted = F.grid_sample(
        masks.float(), grid, mode='bilinear', align_corners=False
    )[:, 0]
    if skip_empty:
        return pasted, (slice(y0_int, y1_int), slice(x0_int, x1_int))
    return pasted, ()


def upsample_masks(mask_probs, upsampled_size, img_shape, ori_shape, thr):
    """(k, h, w) mask probabilities -> (k, H, W) bool masks of the original
    image: resized to ``upsampled_size`` (the padded input), cropped to
    ``img_shape``, resized to ``ori_shape`` (bilinear), above ``thr``."""
    h, w = img_shape[:2]
    probs = F.interpolate(
        mask_probs.unsqueeze(0),
        size=upsampled_size,
        mode='bilinear',
        align_corners=False,
    )[:, :, :h, :w]
    probs = F.interpolate(
        probs, size=ori_shape[:2], mode='bilinear', align_corners=False
    ).squeeze(0)
    return probs > thr
