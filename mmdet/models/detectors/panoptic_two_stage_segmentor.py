"""Two-stage panoptic segmentors: a two-stage instance detector plus a
semantic head, fused into one panoptic map."""

import copy

import torch

from mmdet.core import bbox2roi, multiclass_nms
from mmdet.core.mask.paste import paste_masks
from ..builder import DETECTORS, build_head
from .base import BaseDetector
from .two_stage import TwoStageDetector


@DETECTORS.register_module()
class TwoStagePanopticSegmentor(TwoStageDetector):
    """``TwoStageDetector`` with ``semantic_head`` (trained on
    ``gt_semantic_seg``) and ``panoptic_fusion_head`` (built with
    ``test_cfg.panoptic``). Results: per image ``dict(pan_results=(H, W)
    int32 map)``."""

    _test_cfg_keys = ('rpn', 'rcnn', 'panoptic')

    def __init__(
        self,
        backbone,
        neck=None,
        rpn_head=None,
        roi_head=None,
        train_cfg=None,
        test_cfg=None,
        pretrained=None,
        init_cfg=None,
        semantic_head=None,
        panoptic_fusion_head=None,
    ):
        super().__init__(
            backbone,
            neck,
            rpn_head,
            roi_head,
            train_cfg,
            test_cfg,
            pretrained,
            init_cfg,
        )
        if semantic_head is not None:
            self.semantic_head = build_head(semantic_head)
        if panoptic_fusion_head is not None:
            panoptic_cfg = self.test_cfg.get('panoptic') if test_cfg else None
            fusion = copy.deepcopy(panoptic_fusion_head)
            fusion.update(test_cfg=panoptic_cfg)
            self.panoptic_fusion_head = build_head(fusion)
            fusion_head = self.panoptic_fusion_head
            self.num_things_classes = fusion_head.num_things_classes
            self.num_stuff_classes = fusion_head.num_stuff_classes
            self.num_classes = fusion_head.num_classes

    @property
    def with_semantic_head(self):
        return getattr(self, 'semantic_head', None) is not None

    @property
    def with_panoptic_fusion_head(self):
        return getattr(self, 'panoptic_fusion_head', None) is not None

    def forward_dummy(self, img):
        raise NotImplementedError(
            f'forward_dummy is not implemented in {type(self).__name__}'
        )

    def forward_train(
        self,
        img,
        img_metas,
        gt_bboxes,
        gt_labels,
        gt_bboxes_ignore=None,
        gt_masks=None,
        gt_semantic_seg=None,
        proposals=None,
        **kwargs,
    ):
        """The two-stage losses plus the semantic head's ``loss_seg`` on
        ``gt_semantic_seg`` (B, 1, H, W) (things < num_things_classes,
        then stuff, 255 ignored)."""
        BaseDetector.forward_train(self, img, img_metas)
        x = self.extract_feat(img)
        losses = self._two_stage_losses(
            x,
            img_metas,
            gt_bboxes,
            gt_labels,
            gt_bboxes_ignore,
            gt_masks,
            proposals,
            **kwargs,
        )
        losses.update(self.semantic_head.forward_train(x, gt_semantic_seg))
        return losses

    def simple_test_mask(
        self, x, img_metas, det_bboxes, det_labels, rescale=False
    ):
        """dict(masks=per image (K, H, W) probabilities of each detection's
        class pasted at the padded (``rescale``: original) image size)."""
        key = 'ori_shape' if rescale else 'pad_shape'
        shapes = [meta[key][:2] for meta in img_metas]
        if all(b.shape[0] == 0 for b in det_bboxes):
            num_classes = self.roi_head.bbox_head.num_classes
            masks = [
                det_bboxes[0].new_zeros((0, num_classes) + tuple(shape))
                for shape in shapes
            ]
            return dict(masks=masks, mask_pred=None, mask_feats=None)
        boxes = [b[:, :4] for b in det_bboxes]
        if rescale:
            boxes = [
                b * b.new_tensor(meta['scale_factor'])
                for b, meta in zip(boxes, img_metas)
            ]
        mask_results = self.roi_head._mask_forward(x, bbox2roi(boxes))
        mask_preds = mask_results['mask_pred'].split(
            [len(b) for b in det_bboxes]
        )
        masks = []
        for pred, bboxes, labels, (h, w) in zip(
            mask_preds, det_bboxes, det_labels, shapes
        ):
            own = pred.sigmoid()[torch.arange(len(labels)), labels][:, None]
            masks.append(paste_masks(own, bboxes[:, :4], h, w, False)[0])
        mask_results['masks'] = masks
        return mask_results

    def simple_test(self, img, img_metas, proposals=None, rescale=False):
        x = self.extract_feat(img)
        if proposals is None:
            proposals = self.rpn_head.simple_test_rpn(x, img_metas)
        bboxes, scores = self.roi_head.simple_test_bboxes(
            x, img_metas, proposals, None, rescale=rescale
        )
        cfg = self.test_cfg.panoptic
        dets = [
            multiclass_nms(b, s, cfg.score_thr, cfg.nms, cfg.max_per_img)
            for b, s in zip(bboxes, scores)
        ]
        det_bboxes = [d[0] for d in dets]
        det_labels = [d[1] for d in dets]
        masks = self.simple_test_mask(
            x, img_metas, det_bboxes, det_labels, rescale=rescale
        )['masks']
        seg_preds = self.semantic_head.simple_test(x, img_metas, rescale)
        results = []
        for i in range(len(det_bboxes)):
            pan = self.panoptic_fusion_head.simple_test(
                det_bboxes[i], det_labels[i], masks[i], seg_preds[i]
            )
            results.append(dict(pan_results=pan.int().cpu().numpy()))
        return results

    def aug_test(self, imgs, img_metas, **kwargs):
        raise NotImplementedError(
            f'{type(self).__name__} does not support test-time augmentation'
        )


@DETECTORS.register_module()
class PanopticFPN(TwoStagePanopticSegmentor):
    """Panoptic FPN: Mask R-CNN plus ``PanopticFPNHead`` fused by
    ``HeuristicFusionHead``."""
