"""Helpers around anchors: level splitting, border checks, regions."""

import torch


def images_to_levels(target, num_levels):
    """Turn per-image targets into per-level targets.

    Args:
        target (list[Tensor]): one tensor per image, each (N, ...) with the
            anchors of all levels concatenated.
        num_levels (list[int]): the number of anchors of every level, in
            order; they sum to N.

    Returns:
        list[Tensor]: one tensor per level, each (B, N_l, ...).
    """
    stacked = torch.stack(target, 0)
    return list(stacked.split(list(num_levels), dim=1))


def anchor_inside_flags(
    flat_anchors, valid_flags, img_shape, allowed_border=0
):
    """Which anchors are valid and lie inside the image (up to a border).

    Args:
        flat_anchors (Tensor): (N, 4) anchors ``x1, y1, x2, y2``.
        valid_flags (Tensor): (N,) bool, from ``AnchorGenerator.valid_flags``.
        img_shape (tuple): (h, w[, c]) of the image, without padding.
        allowed_border (int): pixels an anchor may reach outside the image;
            a negative value disables the check.

    Returns:
        Tensor: (N,) bool.
    """
    img_h, img_w = img_shape[:2]
    if allowed_border < 0:
        return valid_flags
    return (
        valid_flags
        & (flat_anchors[:, 0] >= -allowed_border)
        & (flat_anchors[:, 1] >= -allowed_border)
        & (flat_anchors[:, 2] < img_w + allowed_border)
        & (flat_anchors[:, 3] < img_h + allowed_border)
    )


def calc_region(bbox, ratio, featmap_size=None):
    """The central part of a box, shrunk by ``ratio`` on every side.

    Args:
        bbox (Tensor): (4,) box ``x1, y1, x2, y2`` in feature-map cells.
        ratio (float): fraction of the width / height cut on each side.
        featmap_size (tuple, optional): (h, w) to clamp the region to.

    Returns:
        tuple[Tensor]: rounded ``x1, y1, x2, y2`` as long tensors.
    """
    x1 = torch.round((1 - ratio) * bbox[0] + ratio * bbox[2]).long()
    y1 = torch.round((1 - ratio) * bbox[1] + ratio * bbox[3]).long()
    x2 = torch.round(ratio * bbox[0] + (1 - ratio) * bbox[2]).long()
    y2 = torch.round(ratio * bbox[1] + (1 - ratio) * bbox[3]).long()
    if featmap_size is not None:
        x1 = x1.clamp(min=0, max=featmap_size[1])
        y1 = y1.clamp(min=0, max=featmap_size[0])
        x2 = x2.clamp(min=0, max=featmap_size[1])
        y2 = y2.clamp(min=0, max=featmap_size[0])
    return (x1, y1, x2, y2)
