"""Mask Scoring R-CNN's RoI head: a mask head plus a MaskIoU head that
scores each predicted mask."""

import torch

from mmdet.core import bbox2roi
from mmdet.utils.arg_errors import InvalidArgumentError
from ..builder import HEADS, build_head
from .standard_roi_head import StandardRoIHead
from .test_mixins import mask_inputs, seg_masks_per_image


@HEADS.register_module()
class MaskScoringRoIHead(StandardRoIHead):
    """A :class:`StandardRoIHead` with ``mask_iou_head``; its test masks
    come as ``(segm_results, mask_scores)`` per image, a mask's score
    being its predicted IoU times its box score.

    Args:
        mask_iou_head (dict): :class:`MaskIoUHead` config.
        **kwargs: :class:`StandardRoIHead` arguments.
    """

    def __init__(self, mask_iou_head, **kwargs):
        if mask_iou_head is None:
            raise InvalidArgumentError(
                'MaskScoringRoIHead needs mask_iou_head'
            )
        super().__init__(**kwargs)
        self.mask_iou_head = build_head(mask_iou_head)

    def init_train_cfg(self, train_cfg):
        """Also accepts ``mask_thr_binary`` (binarizes the predicted masks
        of the MaskIoU targets)."""
        if train_cfg is None or 'mask_thr_binary' not in train_cfg:
            return super().init_train_cfg(train_cfg)
        rest = {k: v for k, v in train_cfg.items() if k != 'mask_thr_binary'}
        cfg = super().init_train_cfg(rest)
        cfg.mask_thr_binary = train_cfg['mask_thr_binary']
        return cfg

    def _mask_forward_train(
        self, x, sampling_results, bbox_feats, gt_masks, img_metas
    ):
        """Mask losses plus ``loss_mask_iou``."""
        pos_labels = torch.cat([res.pos_gt_labels for res in sampling_results])
        results = super()._mask_forward_train(
            x, sampling_results, bbox_feats, gt_masks, img_metas
        )
        if results['loss_mask'] is None:
            return results
        rows = torch.arange(pos_labels.numel(), device=pos_labels.device)
        pos_mask_pred = results['mask_pred'][rows, pos_labels]
        iou_pred = self.mask_iou_head(results['mask_feats'], pos_mask_pred)
        targets = self.mask_iou_head.get_targets(
            sampling_results,
            gt_masks,
            pos_mask_pred,
            results['mask_targets'],
            self.train_cfg,
        )
        results['loss_mask'].update(
            self.mask_iou_head.loss(iou_pred[rows, pos_labels], targets)
        )
        return results

    def simple_test_mask(
        self, x, img_metas, det_bboxes, det_labels, rescale=False
    ):
        """Per image ``(segm_results, mask_scores)``, both per class."""
        num_classes = self.mask_head.num_classes
        if all(b.size(0) == 0 for b in det_bboxes):
            return [
                ([[] for _ in range(num_classes)],) * 2 for _ in det_bboxes
            ]
        scale_factors, input_bboxes = mask_inputs(
            det_bboxes, img_metas, rescale
        )
        results = self._mask_forward(x, bbox2roi(input_bboxes))
        labels = torch.cat(det_labels)
        rows = torch.arange(labels.numel(), device=labels.device)
        iou_pred = self.mask_iou_head(
            results['mask_feats'], results['mask_pred'][rows, labels]
        )
        counts = [len(b) for b in det_bboxes]
        segms = seg_masks_per_image(
            self.mask_head,
            results['mask_pred'].split(counts),
            input_bboxes,
            det_labels,
            img_metas,
            scale_factors,
            self.test_cfg,
            rescale,
        )
        scores = [
            self.mask_iou_head.get_mask_scores(iou, bboxes, lbls)
            if len(bboxes)
            else [[] for _ in range(num_classes)]
            for iou, bboxes, lbls in zip(
                iou_pred.split(counts), det_bboxes, det_labels
            )
        ]
        return list(zip(segms, scores))
