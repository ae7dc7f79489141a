"""Turn mask-query predictions into panoptic and instance results."""

import torch
import torch.nn.functional as F

from mmdet.core.evaluation.panoptic import INSTANCE_OFFSET
from mmdet.core.mask import mask2bbox
from ...builder import HEADS
from .base_panoptic_fusion_head import BasePanopticFusionHead


@HEADS.register_module()
class MaskFormerFusionHead(BasePanopticFusionHead):
    """Fusion of MaskFormer / Mask2Former queries ((Q, C+1) class logits,
    the last 'no object'; (Q, H, W) mask logits).

    ``test_cfg``: ``panoptic_on`` (default True), ``instance_on`` (False),
    ``semantic_on`` (False; not supported), ``object_mask_thr`` (0.8),
    ``iou_thr`` (0.8), ``filter_low_score`` (False), ``max_per_image``
    (100).
    """

    def forward_train(self, **kwargs):
        return dict()

    def _cfg(self, key, default):
        return (self.test_cfg or {}).get(key, default)

    def panoptic_postprocess(self, mask_cls, mask_pred):
        """(H, W) int32 panoptic map; ``num_classes`` where no query won.

        Each pixel goes to the kept query (a real class with probability
        above ``object_mask_thr``) of the highest probability x mask
        sigmoid; a query keeps its pixels only when they are at least
        ``iou_thr`` of its own mask (sigmoid >= 0.5).
        """
        scores, labels = F.softmax(mask_cls, dim=-1).max(-1)
        masks = mask_pred.sigmoid()
        keep = labels.ne(self.num_classes) & (
            scores > self._cfg('object_mask_thr', 0.8)
        )
        scores, labels, masks = scores[keep], labels[keep], masks[keep]
        h, w = masks.shape[-2:]
        pan = torch.full(
            (h, w), self.num_classes, dtype=torch.int32, device=masks.device
        )
        if masks.shape[0] == 0:
            return pan
        owner = (scores.view(-1, 1, 1) * masks).argmax(0)
        instance_id = 1
        for k, label in enumerate(labels.tolist()):
            mask = owner == k
            area = mask.sum().item()
            own_area = (masks[k] >= 0.5).sum().item()
            if self._cfg('filter_low_score', False):
                mask = mask & (masks[k] >= 0.5)
            if area == 0 or own_area == 0:
                continue
            if area / own_area < self._cfg('iou_thr', 0.8):
                continue
            if label < self.num_things_classes:
                pan[mask] = label + instance_id * INSTANCE_OFFSET
                instance_id += 1
            else:
                pan[mask] = label
        return pan

    def semantic_postprocess(self, mask_cls, mask_pred):
        raise NotImplementedError(
            'MaskFormerFusionHead: semantic results are not supported'
        )

    def instance_postprocess(self, mask_cls, mask_pred):
        """Top ``max_per_image`` (query, class) pairs of thing classes:
        (K,) labels, (K, 5) mask-tight boxes with score (class probability
        x mean sigmoid inside the binary mask) and (K, H, W) bool masks."""
        num_queries = mask_cls.shape[0]
        scores = F.softmax(mask_cls, dim=-1)[:, :-1]
        labels = torch.arange(self.num_classes, device=mask_cls.device)
        labels = labels.repeat(num_queries)
        top_scores, top = scores.flatten().topk(
            self._cfg('max_per_image', 100), sorted=False
        )
        top_labels = labels[top]
        masks = mask_pred[top // self.num_classes]
        is_thing = top_labels < self.num_things_classes
        top_scores = top_scores[is_thing]
        top_labels = top_labels[is_thing]
        masks = masks[is_thing]
        binary = (masks > 0).float()
        inside = (masks.sigmoid() * binary).flatten(1).sum(1)
        mask_scores = inside / (binary.flatten(1).sum(1) + 1e-6)
        binary = binary.bool()
        bboxes = mask2bbox(binary)
        det_scores = (top_scores * mask_scores)[:, None]
        return top_labels, torch.cat([bboxes, det_scores], dim=-1), binary

    def simple_test(
        self,
        mask_cls_results,
        mask_pred_results,
        img_metas,
        rescale=False,
        **kwargs,
    ):
        """Per image a dict with 'pan_results' ((H, W) int32 map) and/or
        'ins_results' ((labels, boxes, masks)); the masks are cropped to
        the image and with ``rescale`` resized (bilinear) to its original
        size."""
        if self._cfg('semantic_on', False):
            self.semantic_postprocess(None, None)
        results = []
        for mask_cls, mask_pred, meta in zip(
            mask_cls_results, mask_pred_results, img_metas
        ):
            img_h, img_w = meta['img_shape'][:2]
            mask_pred = mask_pred[:, :img_h, :img_w]
            if rescale:
                ori_h, ori_w = meta['ori_shape'][:2]
                mask_pred = F.interpolate(
                    mask_pred[:, None],
                    size=(ori_h, ori_w),
                    mode='bilinear',
                    align_corners=False,
                )[:, 0]
            result = dict()
            if self._cfg('panoptic_on', True):
                result['pan_results'] = self.panoptic_postprocess(
                    mask_cls, mask_pred
                )
            if self._cfg('instance_on', False):
                result['ins_results'] = self.instance_postprocess(
                    mask_cls, mask_pred
                )
            results.append(result)
        return results
