"""Conversions of boxes: flips, rescaling, RoI format, result format.

Boxes are ``x1, y1, x2, y2`` in pixels, widths ``x2 - x1`` (no +1).
"""

import numpy as np
import torch

from mmdet.utils.arg_errors import InvalidArgumentError

FLIP_DIRECTIONS = ('horizontal', 'vertical', 'diagonal')


def bbox_flip(bboxes, img_shape, direction='horizontal'):
    """Flip boxes inside an image.

    Args:
        bboxes (Tensor): (..., 4 * k) boxes.
        img_shape (tuple): (h, w[, c]) of the image.
        direction (str): 'horizontal', 'vertical' or 'diagonal' (both).

    Returns:
        Tensor: the flipped boxes, same shape.
    """
    if bboxes.shape[-1] % 4 != 0:
        raise InvalidArgumentError(
            f'boxes must have 4 * k columns, got {tuple(bboxes.shape)}'
        )
    if direction not in FLIP_DIRECTIONS:
        raise InvalidArgumentError(
            f'direction must be one of {FLIP_DIRECTIONS}, got {direction!r}'
        )
    height, width = img_shape[:2]
    flipped = bboxes.clone()
    if direction in ('horizontal', 'diagonal'):
        flipped[..., 0::4] = width - bboxes[..., 2::4]
        flipped[..., 2::4] = width - bboxes[..., 0::4]
    if direction in ('vertical', 'diagonal'):
        flipped[..., 1::4] = height - bboxes[..., 3::4]
        flipped[..., 3::4] = height - bboxes[..., 1::4]
    return flipped


def bbox_mapping(
    bboxes, img_shape, scale_factor, flip, flip_direction='horizontal'
):
    """Map boxes of an original image into its resized (and flipped)
    version.

    Args:
        bboxes (Tensor): (n, 4) boxes in original-image pixels.
        img_shape (tuple): (h, w[, c]) of the resized image.
        scale_factor (float | Sequence[float] | ndarray): the scale, or
            ``[w_scale, h_scale, w_scale, h_scale]``.
        flip (bool): whether the image was flipped after resizing.
        flip_direction (str): the flip's direction.

    Returns:
        Tensor: (n, 4) boxes in resized-image pixels.
    """
    new_bboxes = bboxes * bboxes.new_tensor(scale_factor)
    if flip:
        new_bboxes = bbox_flip(new_bboxes, img_shape, flip_direction)
    return new_bboxes


def bbox_mapping_back(
    bboxes, img_shape, scale_factor, flip, flip_direction='horizontal'
):
    """Inverse of :func:`bbox_mapping`: from resized (flipped) image
    pixels back to original-image pixels. Boxes may be (n, 4 * k)."""
    new_bboxes = (
        bbox_flip(bboxes, img_shape, flip_direction) if flip else bboxes
    )
    new_bboxes = new_bboxes.reshape(-1, 4) / new_bboxes.new_tensor(
        scale_factor
    )
    return new_bboxes.view(bboxes.shape)


def bbox2roi(bbox_list):
    """Boxes of a batch of images as RoIs.

    Args:
        bbox_list (list[Tensor]): per image (n_i, 4+) boxes (columns after
            the 4th, e.g. scores, are dropped).

    Returns:
        Tensor: (sum n_i, 5) RoIs ``batch_index, x1, y1, x2, y2``.
    """
    rois_list = []
    for img_id, bboxes in enumerate(bbox_list):
        if bboxes.size(0) == 0:
            rois_list.append(bboxes.new_zeros((0, 5)))
            continue
        img_inds = bboxes.new_full((bboxes.size(0), 1), img_id)
        rois_list.append(torch.cat([img_inds, bboxes[:, :4]], dim=-1))
    return torch.cat(rois_list, 0)


def roi2bbox(rois):
    """Split (n, 5) RoIs back into per-image (n_i, 4) boxes.

    Only the images that have RoIs appear, in increasing batch index.
    """
    img_ids = torch.unique(rois[:, 0].cpu(), sorted=True)
    return [rois[rois[:, 0] == img_id.item(), 1:] for img_id in img_ids]


def bbox2result(bboxes, labels, num_classes):
    """Detections of one image in MMDetection's result format.

    Args:
        bboxes (Tensor | ndarray): (n, 5) boxes with scores.
        labels (Tensor | ndarray): (n,) labels in [0, num_classes).
        num_classes (int): number of classes (background excluded).

    Returns:
        list[ndarray]: per class a float32 (n_c, 5) array.
    """
    if bboxes.shape[0] == 0:
        return [np.zeros((0, 5), dtype=np.float32) for _ in range(num_classes)]
    if isinstance(bboxes, torch.Tensor):
        bboxes = bboxes.detach().cpu().numpy()
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    bboxes = bboxes.astype(np.float32, copy=False)
    return [bboxes[labels == i, :] for i in range(num_classes)]


def _clip_bounds(max_shape, like):
    """``[W, H, W, H]`` limits for (B, ..., 4) boxes ``like``: (4,) for
    one shape, (B, 1, ..., 1, 4) for a shape per image; from ``max_shape``
    (tuple, list of tuples, tensor)."""
    shape = torch.as_tensor(max_shape, device=like.device)
    if shape.dim() not in (1, 2) or shape.size(-1) < 2:
        raise InvalidArgumentError(
            'max_shape must be (H, W[, C]) or a list of them, '
            f'got {max_shape!r}'
        )
    wh = shape[..., :2].flip(-1).to(like.dtype)
    bounds = torch.cat([wh, wh], dim=-1)
    if bounds.dim() == 2:
        if like.dim() < 3 or like.size(0) != bounds.size(0):
            raise InvalidArgumentError(
                'one max_shape per image needs batched boxes '
                'with as many images'
            )
        bounds = bounds.view(-1, *([1] * (like.dim() - 2)), 4)
    return bounds


def img_whwh(img_shape, like):
    """(4,) ``[w, h, w, h]`` of an image's ``(h, w[, c])`` (a tuple, or a
    tensor such as an exported graph's ``img_shape`` input, whose sizes
    then stay traced), dtype and device of ``like``."""
    return _clip_bounds(img_shape, like)


def clip_bboxes(bboxes, max_shape):
    """Clip boxes to the image: every coordinate into ``[0, W]`` / ``[0,
    H]``. The one box clipping of the project (box coder, dense heads, RoI
    heads).

    Args:
        bboxes (Tensor): (..., 4 * k) boxes ``x1, y1, x2, y2`` (k boxes per
            row, e.g. one per class).
        max_shape (tuple | list[tuple] | Tensor): the image's ``(H, W[,
            C])``, or one per image for (B, ..., 4 * k) boxes.

    Returns:
        Tensor: the clipped boxes, shaped like ``bboxes``.
    """
    shape = bboxes.shape
    # k a constant in an exported graph (ONNX Runtime turns a computed k
    # into -1, which N = 0 boxes cannot resolve)
    boxes = bboxes.reshape(*shape[:-1], int(shape[-1]) // 4, 4)
    bounds = _clip_bounds(max_shape, boxes)
    return torch.min(boxes.clamp(min=0), bounds).reshape(shape)


def distance2bbox(points, distance, max_shape=None):
    """Boxes from points and their distances to the four sides.

    Args:
        points (Tensor): (N, 2) or (B, N, 2) points ``x, y``.
        distance (Tensor): (N, 4) or (B, N, 4) distances ``left, top,
            right, bottom``.
        max_shape (Sequence[int] | Sequence[Sequence[int]] | Tensor,
            optional): the image (H, W[, C]) to clip to, or for batched
            input one (H, W[, C]) per image (a list of B shapes or a (B, 2+)
            tensor).

    Returns:
        Tensor: (N, 4) or (B, N, 4) boxes ``x1, y1, x2, y2``.
    """
    lt = points[..., :2] - distance[..., :2]
    rb = points[..., :2] + distance[..., 2:]
    bboxes = torch.cat([lt, rb], dim=-1)
    if max_shape is None:
        return bboxes
    if (
        not torch.is_tensor(max_shape)
        and len(max_shape)
        and isinstance(max_shape[0], (list, tuple, torch.Tensor))
    ):
        max_shape = [tuple(shape[:2]) for shape in max_shape]
    shape = torch.as_tensor(
        max_shape, dtype=bboxes.dtype, device=bboxes.device
    )[..., :2]
    if shape.dim() == 2:
        if bboxes.dim() != 3 or shape.size(0) != bboxes.size(0):
            raise InvalidArgumentError(
                f'distance2bbox: {shape.size(0)} max_shapes for boxes of '
                f'shape {tuple(bboxes.shape)}; give one (H, W) per image '
                'of a (B, N, 4) batch'
            )
        shape = shape[:, None, :]  # (B, 1, 2)
    bounds = shape.flip(-1)
    bounds = torch.cat([bounds, bounds], dim=-1)  # W, H, W, H
    return torch.min(bboxes.clamp(min=0), bounds)


def bbox2distance(points, bbox, max_dis=None, eps=0.1):
    """Distances from (N, 2) points to the sides of (N, 4) boxes, as
    ``left, top, right, bottom``, optionally clamped below ``max_dis -
    eps``."""
    dist = torch.cat([points - bbox[:, :2], bbox[:, 2:] - points], dim=-1)
    if max_dis is not None:
        dist = dist.clamp(min=0, max=max_dis - eps)
    return dist


def bbox_rescale(bboxes, scale_factor=1.0):
    """Scale boxes about their centres.

    Args:
        bboxes (Tensor): (n, 4) boxes or (n, 5) RoIs (batch index first).
        scale_factor (float): the factor for width and height.

    Returns:
        Tensor: the scaled boxes, same shape.
    """
    boxes = bboxes[:, 1:] if bboxes.size(1) == 5 else bboxes
    centers = (boxes[:, :2] + boxes[:, 2:]) * 0.5
    half = (boxes[:, 2:] - boxes[:, :2]) * scale_factor * 0.5
    scaled = torch.cat([centers - half, centers + half], dim=1)
    if bboxes.size(1) == 5:
        scaled = torch.cat([bboxes[:, :1], scaled], dim=1)
    return scaled


def bbox_cxcywh_to_xyxy(bbox):
    """(..., 4) ``cx, cy, w, h`` -> ``x1, y1, x2, y2``."""
    cxcy, wh = bbox[..., :2], bbox[..., 2:]
    return torch.cat([cxcy - 0.5 * wh, cxcy + 0.5 * wh], dim=-1)


def bbox_xyxy_to_cxcywh(bbox):
    """(..., 4) ``x1, y1, x2, y2`` -> ``cx, cy, w, h``."""
    x1y1, x2y2 = bbox[..., :2], bbox[..., 2:]
    return torch.cat([(x1y1 + x2y2) / 2, x2y2 - x1y1], dim=-1)


def find_inside_bboxes(bboxes, img_h, img_w):
    """(n,) bool: boxes (n, 4) that overlap the image ``img_h x img_w``."""
    return (
        (bboxes[:, 0] < img_w)
        & (bboxes[:, 2] > 0)
        & (bboxes[:, 1] < img_h)
        & (bboxes[:, 3] > 0)
    )
