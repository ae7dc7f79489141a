"""Helpers for mask results: RLE encoding, boxes of masks, old polygons."""

import numpy as np
import pycocotools.mask as mask_utils
import torch


def encode_mask_results(mask_results):
    """RLE-encode a detector's per-class binary masks (what the test loop
    keeps, so gathering results across processes moves little data).

    Args:
        mask_results (list[list[ndarray]] | tuple): ``segm_results[c]``, the
            (H, W) binary masks of class ``c``; or ``(segm_results,
            mask_scores)`` whose scores are passed through.

    Returns:
        list[list[dict]] | tuple: the same structure with every mask an RLE
        dict ``{'size': [H, W], 'counts': bytes}`` (pycocotools').
    """
    scores = None
    if isinstance(mask_results, tuple):
        mask_results, scores = mask_results
    encoded = [_encode_class(masks) for masks in mask_results]
    return encoded if scores is None else (encoded, scores)


def _encode_class(masks):
    """RLEs of a list (or (N, H, W) array) of binary masks, in one call."""
    if isinstance(masks, torch.Tensor):
        masks = masks.detach().cpu().numpy()
    if len(masks) == 0:
        return []
    stacked = np.stack([np.asarray(m) for m in masks], axis=-1)
    return mask_utils.encode(np.asfortranarray(stacked.astype(np.uint8)))


def mask2bbox(masks):
    """Tight boxes of binary masks.

    Args:
        masks (Tensor): (N, H, W) binary masks.

    Returns:
        Tensor: (N, 4) float ``x1, y1, x2, y2`` in pixel-edge coordinates;
        zeros for empty masks.
    """
    n = masks.shape[0]
    boxes = masks.new_zeros((n, 4), dtype=torch.float32)
    if n == 0:
        return boxes
    cols = masks.any(dim=1)
    rows = masks.any(dim=2)
    has_pixels = cols.any(dim=1)
    width, height = cols.shape[1], rows.shape[1]
    x1 = cols.float().argmax(dim=1)
    x2 = width - cols.flip(1).float().argmax(dim=1)
    y1 = rows.float().argmax(dim=1)
    y2 = height - rows.flip(1).float().argmax(dim=1)
    stacked = torch.stack([x1, y1, x2, y2], dim=1).float()
    boxes[has_pixels] = stacked[has_pixels]
    return boxes


def split_combined_polys(polys, poly_lens, polys_per_mask):
    """Split polygons that were concatenated into one array per image.

    Old data loaders packed every polygon of an image into one flat array;
    this undoes it.

    Args:
        polys (list[ndarray | Tensor]): per image, all polygon coordinates.
        poly_lens (list): per image, the length of every polygon.
        polys_per_mask (list): per image, how many polygons each mask has.

    Returns:
        list[list[list[ndarray]]]: per image, per mask, its polygons.
    """
    result = []
    for img_polys, lens, per_mask in zip(polys, poly_lens, polys_per_mask):
        flat = np.asarray(
            img_polys.tolist() if hasattr(img_polys, 'tolist') else img_polys
        )
        lens = [int(n) for n in np.asarray(lens).tolist()]
        per_mask = [int(n) for n in np.asarray(per_mask).tolist()]
        parts = np.split(flat, np.cumsum(lens)[:-1]) if lens else []
        bounds = np.cumsum([0] + per_mask)
        result.append(
            [list(parts[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
        )
    return result


def _boxes_of_masks(dets, masks):
    """(n, 5) dets with x1, y1, x2, y2 replaced by each (H, W) mask's tight
    box (end exclusive); empty masks keep their row."""
    dets = dets.copy()
    for i, mask in enumerate(masks):
        ys, xs = np.nonzero(mask)
        if len(xs):
            dets[i, :4] = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    return dets


def with_mask_boxes(result):
    """A ``(bbox_result, mask_result)`` result for drawing: when its boxes
    are all zero (a box-free segmentor's, SOLO's), each box becomes its
    mask's tight box; any other result is returned as it is."""
    bbox_result, mask_result = result
    if sum(float(d[:, :4].sum()) for d in bbox_result) != 0:
        return result
    return [
        _boxes_of_masks(d, m) for d, m in zip(bbox_result, mask_result)
    ], mask_result
