"""Mask targets of the positive RoIs (Mask R-CNN's mask head)."""

import numpy as np
import torch
from torch.nn.modules.utils import _pair


def mask_target(
    pos_proposals_list, pos_assigned_gt_inds_list, gt_masks_list, cfg
):
    """Mask targets for the positive proposals of every image in a batch.

    Args:
        pos_proposals_list (list[Tensor]): per image, (P_i, 4) positive boxes
            ``x1, y1, x2, y2`` in the (resized) image.
        pos_assigned_gt_inds_list (list[Tensor]): per image, (P_i,) index of
            the ground-truth instance each proposal was assigned to.
        gt_masks_list (list[BitmapMasks | PolygonMasks]): per image, its
            ground-truth masks.
        cfg (dict): ``mask_size`` (int or (h, w), 28 in Mask R-CNN) and
            optionally ``soft_mask_target`` (keep the bilinear values instead
            of thresholding at 0.5).

    Returns:
        Tensor: (sum P_i, h, w) float targets in [0, 1].
    """
    cfg_list = [cfg] * len(pos_proposals_list)
    targets = [
        mask_target_single(*args)
        for args in zip(
            pos_proposals_list,
            pos_assigned_gt_inds_list,
            gt_masks_list,
            cfg_list,
        )
    ]
    if len(targets) == 0:
        return torch.zeros((0,) + _pair(cfg['mask_size']))
    return torch.cat(targets)


def mask_target_single(pos_proposals, pos_assigned_gt_inds, gt_masks, cfg):
    """Targets of one image: each proposal (clipped to the image) crops its
    ground-truth mask, resized to ``cfg['mask_size']`` by RoIAlign."""
    device = pos_proposals.device
    mask_size = _pair(cfg['mask_size'])
    binarize = not cfg.get('soft_mask_target', False)
    if pos_proposals.size(0) == 0:
        return pos_proposals.new_zeros((0,) + mask_size)
    proposals = pos_proposals.detach().cpu().numpy().astype(np.float32)
    proposals[:, 0::2] = np.clip(proposals[:, 0::2], 0, gt_masks.width)
    proposals[:, 1::2] = np.clip(proposals[:, 1::2], 0, gt_masks.height)
    inds = pos_assigned_gt_inds.detach().cpu().numpy()
    targets = gt_masks.crop_and_resize(
        proposals, mask_size, inds=inds, device=device, binarize=binarize
    ).to_ndarray()
    return torch.from_numpy(np.asarray(targets)).float().to(device)
