"""Panoptic FPN's fusion: instance masks laid by score, stuff from the
semantic head where no instance is."""

import torch

from mmdet.core.evaluation.panoptic import INSTANCE_OFFSET
from ...builder import HEADS
from .base_panoptic_fusion_head import BasePanopticFusionHead


@HEADS.register_module()
class HeuristicFusionHead(BasePanopticFusionHead):
    """``test_cfg`` keys: ``mask_thr_binary``, ``mask_overlap``,
    ``stuff_area_limit``."""

    def __init__(
        self,
        num_things_classes=80,
        num_stuff_classes=53,
        test_cfg=None,
        init_cfg=None,
        **kwargs,
    ):
        super().__init__(
            num_things_classes,
            num_stuff_classes,
            test_cfg,
            None,
            init_cfg,
            **kwargs,
        )

    def forward_train(self, gt_masks=None, gt_semantic_seg=None, **kwargs):
        return dict()

    def _lay_masks(self, bboxes, labels, masks, overlap_thr=0.5):
        """(H, W) map of instance ids (1, 2, ... in score order; 0: none)
        and the (n,) labels of the laid instances. An instance is skipped
        when empty or when more than ``overlap_thr`` of it is already
        covered; it takes only its uncovered pixels."""
        id_map = torch.zeros(
            masks.shape[-2:], device=bboxes.device, dtype=torch.long
        )
        if bboxes.shape[0] == 0:
            return id_map, labels
        order = torch.argsort(-bboxes[:, -1])
        kept = []
        for label, mask in zip(labels[order], masks[order]):
            area = mask.sum()
            if area == 0:
                continue
            covered = id_map > 0
            if (mask & covered).sum() / (area + 1e-5) > overlap_thr:
                continue
            id_map[mask & ~covered] = len(kept) + 1
            kept.append(label)
        if not kept:
            return id_map, bboxes.new_zeros((0,), dtype=torch.long)
        return id_map, torch.stack(kept)

    def simple_test(
        self, det_bboxes, det_labels, mask_preds, seg_preds, **kwargs
    ):
        """(H, W) panoptic map from (K, 5) detections, (K,) labels, (K, H,
        W) mask probabilities and (num_stuff + 1, H, W) semantic logits;
        stuff segments under ``stuff_area_limit`` pixels become void
        (``num_classes``)."""
        cfg = self.test_cfg
        masks = mask_preds >= cfg['mask_thr_binary']
        id_map, labels = self._lay_masks(
            det_bboxes, det_labels, masks, cfg['mask_overlap']
        )
        pan = seg_preds.argmax(dim=0) + self.num_things_classes
        instance_id = 1
        for idx, label in enumerate(labels):
            mask = id_map == idx + 1
            if mask.any():
                pan[mask] = label + instance_id * INSTANCE_OFFSET
                instance_id += 1
        ids, counts = torch.unique(pan % INSTANCE_OFFSET, return_counts=True)
        small = (ids >= self.num_things_classes) & (
            counts < cfg['stuff_area_limit']
        )
        pan[torch.isin(pan, ids[small])] = self.num_classes
        return pan
