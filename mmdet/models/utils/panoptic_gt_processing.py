"""Ground truth of the mask-query heads: one mask per thing instance and
per stuff class present."""

import torch


def preprocess_panoptic_gt(
    gt_labels, gt_masks, gt_semantic_seg, num_things, num_stuff, img_metas
):
    """Labels (K,) and long masks (K, H, W) at the padded size.

    ``gt_labels`` / ``gt_masks`` (``BitmapMasks``) are the things;
    ``gt_semantic_seg`` (1, H, W) labels every pixel with its class (255:
    ignored), from which each stuff class present (label in
    ``[num_things, num_things + num_stuff)``) adds a mask after the things.
    ``gt_semantic_seg`` None: things only.
    """
    pad_shape = img_metas['pad_shape'][:2]
    things_masks = gt_masks.pad(pad_shape, pad_val=0).to_tensor(
        dtype=torch.bool, device=gt_labels.device
    )
    if gt_semantic_seg is None:
        return gt_labels, things_masks.long()
    seg = gt_semantic_seg.squeeze(0)
    stuff = [
        c
        for c in torch.unique(seg)
        if num_things <= c < num_things + num_stuff
    ]
    if not stuff:
        return gt_labels, things_masks.long()
    stuff_masks = torch.stack([seg == c for c in stuff])
    labels = torch.cat([gt_labels, torch.stack(stuff).to(gt_labels)])
    masks = torch.cat([things_masks, stuff_masks])
    return labels, masks.long()
