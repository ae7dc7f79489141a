"""Inference of the box and mask branches of an RoI head."""

import numpy as np
import torch

from mmdet.core import (
    bbox2result,
    bbox2roi,
    bbox_mapping,
    merge_aug_bboxes,
    merge_aug_masks,
    multiclass_nms,
)


def _aug_geometry(img_meta):
    """(img_shape, scale_factor, flip, flip_direction) of an augmentation."""
    return (
        img_meta['img_shape'],
        img_meta['scale_factor'],
        img_meta['flip'],
        img_meta.get('flip_direction', 'horizontal'),
    )


def split_bbox_pred(bbox_pred, counts):
    """Per-image parts of a batch's box predictions: a (K, ...) tensor, a
    tuple of them (SABL's (bucket logits, offsets)) or None."""
    if bbox_pred is None:
        return [None] * len(counts)
    if isinstance(bbox_pred, torch.Tensor):
        return bbox_pred.split(counts)
    return list(zip(*(part.split(counts) for part in bbox_pred)))


def mask_inputs(det_bboxes, img_metas, rescale):
    """Per image (4,) scale factors and the detections' boxes in
    network-input pixels, where the mask RoIs are pooled.

    Args:
        det_bboxes (list[Tensor]): per image (n, 5) detections, in
            original-image pixels if ``rescale`` else input pixels.
        img_metas (list[dict]): per image meta (``scale_factor``).
        rescale (bool): whether ``det_bboxes`` are in original pixels.

    Returns:
        tuple[list[Tensor], list[Tensor]]: (4,) scale factors and (n, 4)
        input-pixel boxes.
    """
    scale_factors = [
        det_bboxes[0].new_tensor(
            np.broadcast_to(
                np.asarray(meta['scale_factor'], dtype=np.float32), (4,)
            ).copy()
        )
        for meta in img_metas
    ]
    input_bboxes = [
        b[:, :4] * s if rescale else b[:, :4]
        for b, s in zip(det_bboxes, scale_factors)
    ]
    return scale_factors, input_bboxes


def seg_masks_per_image(
    mask_head,
    mask_preds,
    input_bboxes,
    det_labels,
    img_metas,
    scale_factors,
    test_cfg,
    rescale,
):
    """Per image, per class binary masks from each image's mask predictions
    (``mask_head.get_seg_masks``); images without detections get empty
    lists."""
    num_classes = mask_head.num_classes
    return [
        mask_head.get_seg_masks(
            preds,
            boxes,
            labels,
            test_cfg,
            meta['ori_shape'],
            scale,
            rescale,
        )
        if len(boxes)
        else [[] for _ in range(num_classes)]
        for preds, boxes, labels, meta, scale in zip(
            mask_preds, input_bboxes, det_labels, img_metas, scale_factors
        )
    ]


class BBoxTestMixin:
    """``simple_test_bboxes`` for heads with ``_bbox_forward`` and
    ``bbox_head``."""

    def simple_test_bboxes(
        self, x, img_metas, proposals, rcnn_test_cfg, rescale=False
    ):
        """Detections of every image from its proposals.

        Args:
            x (tuple[Tensor]): feature levels.
            img_metas (list[dict]): per image meta.
            proposals (list[Tensor]): per image (n, 4 or 5) proposals.
            rcnn_test_cfg (dict | None): ``score_thr``, ``nms``,
                ``max_per_img``; None returns raw boxes and scores.
            rescale (bool): boxes in original-image pixels.

        Returns:
            tuple[list[Tensor], list[Tensor]]: per image (n, 5) boxes with
            scores and (n,) labels.
        """
        rois = bbox2roi(proposals)
        num_imgs = len(proposals)
        if rois.size(0) == 0:
            return (
                [self._empty_dets(rois, rcnn_test_cfg)[0]] * num_imgs,
                [self._empty_dets(rois, rcnn_test_cfg)[1]] * num_imgs,
            )
        bbox_results = self._bbox_forward(x, rois)
        counts = [len(p) for p in proposals]
        rois = rois.split(counts)
        cls_scores = bbox_results['cls_score'].split(counts)
        bbox_preds = split_bbox_pred(bbox_results['bbox_pred'], counts)
        det_bboxes, det_labels = [], []
        for i, meta in enumerate(img_metas):
            if rois[i].size(0) == 0:
                det_bbox, det_label = self._empty_dets(rois[i], rcnn_test_cfg)
            else:
                det_bbox, det_label = self.bbox_head.get_bboxes(
                    rois[i],
                    cls_scores[i],
                    bbox_preds[i],
                    meta['img_shape'],
                    meta['scale_factor'],
                    rescale=rescale,
                    cfg=rcnn_test_cfg,
                )
            det_bboxes.append(det_bbox)
            det_labels.append(det_label)
        return det_bboxes, det_labels

    def aug_test_bboxes(self, feats, img_metas, proposal_list, rcnn_test_cfg):
        """Detections of one image merged over its augmentations.

        The proposals (original-image pixels) are mapped into each
        augmented image; the decoded boxes are mapped back and averaged,
        as are the scores; then ``multiclass_nms``.

        Args:
            feats (list[tuple[Tensor]]): per augmentation the levels.
            img_metas (list[list[dict]]): per augmentation ``[meta]``.
            proposal_list (list[Tensor]): ``[(n, 5)]`` merged proposals.
            rcnn_test_cfg (dict): ``score_thr``, ``nms``, ``max_per_img``.

        Returns:
            tuple[Tensor, Tensor]: (n, 5) boxes (original pixels) with
            scores and (n,) labels.
        """
        bbox_head = self._final_bbox_head()
        aug_bboxes, aug_scores = [], []
        for x, img_meta in zip(feats, img_metas):
            img_shape, scale_factor, flip, direction = _aug_geometry(
                img_meta[0]
            )
            proposals = bbox_mapping(
                proposal_list[0][:, :4],
                img_shape,
                scale_factor,
                flip,
                direction,
            )
            rois, cls_score, bbox_pred = self._aug_bbox_forward(
                x, proposals, img_meta
            )
            bboxes, scores = bbox_head.get_bboxes(
                rois,
                cls_score,
                bbox_pred,
                img_shape,
                scale_factor,
                rescale=False,
                cfg=None,
            )
            aug_bboxes.append(bboxes)
            aug_scores.append(scores)
        bboxes, scores = merge_aug_bboxes(
            aug_bboxes, aug_scores, img_metas, rcnn_test_cfg
        )
        if bboxes.size(0) == 0:
            return self._empty_dets(bboxes, rcnn_test_cfg)
        return multiclass_nms(
            bboxes,
            scores,
            rcnn_test_cfg['score_thr'],
            rcnn_test_cfg['nms'],
            rcnn_test_cfg['max_per_img'],
        )

    def _final_bbox_head(self):
        """The box head that decodes the test boxes."""
        return self.bbox_head

    def _aug_bbox_forward(self, x, proposals, img_meta):
        """``(rois, cls_score, bbox_pred)`` of one augmentation's (n, 4)
        proposals (in its pixels)."""
        rois = bbox2roi([proposals])
        bbox_results = self._bbox_forward(x, rois)
        return rois, bbox_results['cls_score'], bbox_results['bbox_pred']

    def _empty_dets(self, rois, rcnn_test_cfg):
        """No detections, shaped as ``get_bboxes`` would give them."""
        if rcnn_test_cfg is None:
            return (
                rois.new_zeros(0, 4),
                rois.new_zeros(0, self.bbox_head.num_cls_channels),
            )
        return rois.new_zeros(0, 5), rois.new_zeros((0,), dtype=torch.long)


class MaskTestMixin:
    """``simple_test_mask`` for heads with ``_mask_forward`` and
    ``mask_head``."""

    def simple_test_mask(
        self, x, img_metas, det_bboxes, det_labels, rescale=False
    ):
        """Per image, per class, the binary masks of the detections.

        Args:
            x (tuple[Tensor]): feature levels.
            img_metas (list[dict]): per image meta.
            det_bboxes (list[Tensor]): per image (n, 5) detections, in
                original-image pixels if ``rescale`` else input pixels.
            det_labels (list[Tensor]): per image (n,) labels.
            rescale (bool): masks of the original image size.

        Returns:
            list[list[list[ndarray]]]: ``[image][class]`` list of (H, W)
            bool masks.
        """
        num_classes = self.mask_head.num_classes
        if all(b.size(0) == 0 for b in det_bboxes):
            return [[[] for _ in range(num_classes)] for _ in det_bboxes]
        scale_factors, input_bboxes = mask_inputs(
            det_bboxes, img_metas, rescale
        )
        mask_preds = self._mask_forward(x, bbox2roi(input_bboxes))[
            'mask_pred'
        ].split([len(b) for b in det_bboxes])
        return seg_masks_per_image(
            self.mask_head,
            mask_preds,
            input_bboxes,
            det_labels,
            img_metas,
            scale_factors,
            self.test_cfg,
            rescale,
        )

    def aug_test_mask(self, feats, img_metas, det_bboxes, det_labels):
        """Per class masks of one image's detections (original pixels),
        from the mask probabilities averaged over the augmentations (and
        over the mask heads that ``_aug_mask_probs`` gives)."""
        mask_head = self._final_mask_head()
        if det_bboxes.size(0) == 0:
            return [[] for _ in range(mask_head.num_classes)]
        aug_masks, aug_metas = [], []
        for x, img_meta in zip(feats, img_metas):
            img_shape, scale_factor, flip, direction = _aug_geometry(
                img_meta[0]
            )
            bboxes = bbox_mapping(
                det_bboxes[:, :4], img_shape, scale_factor, flip, direction
            )
            for probs in self._aug_mask_probs(x, bbox2roi([bboxes])):
                aug_masks.append(probs.cpu().numpy())
                aug_metas.append(img_meta)
        merged = merge_aug_masks(aug_masks, aug_metas, self.test_cfg)
        # boxes already in original pixels: paste with scale 1
        return mask_head.get_seg_masks(
            merged,
            det_bboxes,
            det_labels,
            self.test_cfg,
            img_metas[0][0]['ori_shape'],
            scale_factor=1.0,
            rescale=False,
        )

    def _final_mask_head(self):
        """The mask head that pastes the test masks."""
        return self.mask_head

    def _aug_mask_probs(self, x, mask_rois):
        """The (n, C, h, w) mask probabilities of one augmentation's RoIs,
        one tensor per mask head."""
        return [self._mask_forward(x, mask_rois)['mask_pred'].sigmoid()]


class AugTestMixin:
    """``aug_test`` of an RoI head from its ``aug_test_bboxes`` and
    ``aug_test_mask``."""

    def aug_test(self, x, proposal_list, img_metas, rescale=False):
        """Detections of one image merged over test-time augmentations.

        Args:
            x (list[tuple[Tensor]]): per augmentation the feature levels.
            proposal_list (list[Tensor]): ``[(n, 5)]`` merged proposals in
                original-image pixels.
            img_metas (list[list[dict]]): per augmentation ``[meta]``.
            rescale (bool): original-image pixels; otherwise boxes are
                scaled into the first augmentation's size.

        Returns:
            list: one result as ``simple_test`` gives per image.
        """
        det_bboxes, det_labels = self.aug_test_bboxes(
            x, img_metas, proposal_list, self.test_cfg
        )
        out_bboxes = det_bboxes
        if not rescale:
            out_bboxes = det_bboxes.clone()
            out_bboxes[:, :4] *= det_bboxes.new_tensor(
                img_metas[0][0]['scale_factor']
            )
        bbox_results = bbox2result(
            out_bboxes, det_labels, self._final_bbox_head().num_classes
        )
        if not self.with_mask:
            return [bbox_results]
        segm_results = self.aug_test_mask(x, img_metas, det_bboxes, det_labels)
        return [(bbox_results, segm_results)]
