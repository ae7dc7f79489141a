"""Merging the results of test-time augmentation (scales and flips)."""

import numpy as np
import torch

from ..bbox import bbox_mapping_back
from .bbox_nms import nms


def _proposal_nms_settings(cfg):
    """(iou_threshold, max_per_img) from a proposal test config, new style
    (``nms=dict(iou_threshold=...)``, ``max_per_img``) or old style
    (``nms_thr``, ``max_num``)."""
    if 'nms' in cfg:
        iou_threshold = cfg['nms']['iou_threshold']
    elif 'nms_thr' in cfg:
        iou_threshold = cfg['nms_thr']
    else:
        raise KeyError(
            'the proposal config needs nms=dict(iou_threshold='
            '...) (or the old nms_thr)'
        )
    max_per_img = cfg.get('max_per_img', cfg.get('max_num'))
    if max_per_img is None:
        raise KeyError('the proposal config needs max_per_img')
    return iou_threshold, max_per_img


def merge_aug_proposals(aug_proposals, img_metas, cfg):
    """Merge the proposals of the augmented versions of one image.

    Args:
        aug_proposals (list[Tensor]): per augmentation (n, 5) proposals in
            its own image's pixels.
        img_metas (list[dict]): per augmentation meta with 'img_shape',
            'scale_factor', 'flip' and 'flip_direction'.
        cfg (dict): ``nms`` (with ``iou_threshold``) and ``max_per_img``.

    Returns:
        Tensor: (m, 5) proposals in original-image pixels, descending by
        score, after one NMS over all of them.
    """
    iou_threshold, max_per_img = _proposal_nms_settings(cfg)
    recovered = []
    for proposals, meta in zip(aug_proposals, img_metas):
        boxes = bbox_mapping_back(
            proposals[:, :4],
            meta['img_shape'],
            meta['scale_factor'],
            meta['flip'],
            meta.get('flip_direction', 'horizontal'),
        )
        recovered.append(torch.cat([boxes, proposals[:, 4:]], dim=1))
    proposals = torch.cat(recovered, dim=0)
    merged, _ = nms(
        proposals[:, :4].contiguous(),
        proposals[:, -1].contiguous(),
        iou_threshold,
    )
    return merged[:max_per_img]


def merge_aug_bboxes(aug_bboxes, aug_scores, img_metas, rcnn_test_cfg=None):
    """Average the boxes (and scores) of the augmented versions.

    Args:
        aug_bboxes (list[Tensor]): per augmentation (n, 4 * k) boxes of the
            same n RoIs.
        aug_scores (list[Tensor] | None): per augmentation (n, C + 1).
        img_metas (list[list[dict]]): per augmentation ``[meta]``.
        rcnn_test_cfg (dict): unused.

    Returns:
        Tensor | tuple[Tensor]: the mean boxes in original-image pixels,
        and the mean scores when given.
    """
    recovered = []
    for bboxes, img_info in zip(aug_bboxes, img_metas):
        meta = img_info[0]
        recovered.append(
            bbox_mapping_back(
                bboxes,
                meta['img_shape'],
                meta['scale_factor'],
                meta['flip'],
                meta.get('flip_direction', 'horizontal'),
            )
        )
    bboxes = torch.stack(recovered).mean(dim=0)
    if aug_scores is None:
        return bboxes
    return bboxes, torch.stack(aug_scores).mean(dim=0)


def merge_aug_scores(aug_scores):
    """Mean of a list of score tensors or arrays."""
    if isinstance(aug_scores[0], torch.Tensor):
        return torch.mean(torch.stack(aug_scores), dim=0)
    return np.mean(aug_scores, axis=0)


def _unflip_masks(masks, direction):
    """Undo a flip of (..., H, W) masks (tensor or array)."""
    axes = {'horizontal': (-1,), 'vertical': (-2,), 'diagonal': (-2, -1)}[
        direction
    ]
    if isinstance(masks, torch.Tensor):
        return torch.flip(masks, axes)
    return np.flip(masks, axes)


def merge_aug_masks(aug_masks, img_metas, rcnn_test_cfg=None, weights=None):
    """Average the (unflipped) mask predictions of the augmentations.

    Args:
        aug_masks (list[ndarray | Tensor]): per augmentation (n, C, h, w).
        img_metas (list[list[dict]]): per augmentation ``[meta]``.
        rcnn_test_cfg (dict): unused.
        weights (list[float], optional): weight of every augmentation.

    Returns:
        ndarray | Tensor: (n, C, h, w) the (weighted) mean.
    """
    recovered = []
    for masks, img_info in zip(aug_masks, img_metas):
        meta = img_info[0]
        if meta['flip']:
            masks = _unflip_masks(
                masks, meta.get('flip_direction', 'horizontal')
            )
        recovered.append(masks)
    if isinstance(recovered[0], torch.Tensor):
        stacked = torch.stack(recovered)
        if weights is None:
            return stacked.mean(dim=0)
        w = stacked.new_tensor(weights).view(-1, *[1] * (stacked.dim() - 1))
        return (stacked * w).sum(dim=0) / w.sum()
    if weights is None:
        return np.mean(recovered, axis=0)
    return np.average(np.array(recovered), axis=0, weights=np.array(weights))
