"""Average recall of region proposals (``CocoDataset`` metric
``proposal_fast``)."""

import numpy as np
import torch

from mmdet.core.bbox import bbox_overlaps


def _matched_ious(gts, proposals):
    """IoU of each ground truth box with its proposal under a greedy
    one-to-one matching (best remaining pair first); 0 if unmatched.

    Args:
        gts (ndarray): (G, 4) boxes.
        proposals (ndarray): (P, 4) boxes.

    Returns:
        ndarray: (G,) IoU.
    """
    matched = np.zeros(len(gts))
    if len(gts) == 0 or len(proposals) == 0:
        return matched
    ious = bbox_overlaps(
        torch.from_numpy(np.asarray(gts, np.float64)),
        torch.from_numpy(np.asarray(proposals, np.float64)),
    ).numpy()
    for _ in range(min(ious.shape)):
        g, p = np.unravel_index(ious.argmax(), ious.shape)
        if ious[g, p] < 0:
            break
        matched[g] = ious[g, p]
        ious[g, :] = -1
        ious[:, p] = -1
    return matched


def average_recall(gt_bboxes, proposals, proposal_nums, iou_thrs):
    """Recall of the top-N proposals, averaged over the IoU thresholds.

    Args:
        gt_bboxes (list[ndarray]): per image, (G, 4) boxes.
        proposals (list[ndarray]): per image, (P, 4+) boxes, best first.
        proposal_nums (Sequence[int]): the N to evaluate.
        iou_thrs (Sequence[float]): IoU thresholds.

    Returns:
        ndarray: (len(proposal_nums),) average recall.
    """
    num_gts = sum(len(g) for g in gt_bboxes)
    recalls = np.zeros(len(proposal_nums))
    if num_gts == 0:
        return recalls
    thrs = np.asarray(iou_thrs, dtype=np.float64)
    for k, num in enumerate(proposal_nums):
        ious = np.concatenate(
            [
                _matched_ious(g, np.asarray(p)[:num, :4])
                for g, p in zip(gt_bboxes, proposals)
            ]
        )
        recalls[k] = (ious[None, :] >= thrs[:, None]).sum(1).mean() / num_gts
    return recalls
