"""MaskFormer and Mask2Former: a backbone, a mask-query head and a fusion
head that turns the queries into panoptic and/or instance results."""

from mmcv import ConfigDict

from mmdet.core import bbox2result
from ..builder import DETECTORS, build_backbone, build_head, build_neck
from .base import BaseDetector
from .single_stage import SingleStageDetector


@DETECTORS.register_module()
class MaskFormer(SingleStageDetector):
    """Results: per image a dict with 'pan_results' ((H, W) int32 map,
    ``label + instance_id * INSTANCE_OFFSET``, ``num_classes`` for void)
    and/or 'ins_results' (per thing class boxes and masks, as Mask R-CNN's
    result); with no stuff classes the 'ins_results' alone."""

    def __init__(
        self,
        backbone,
        neck=None,
        panoptic_head=None,
        panoptic_fusion_head=None,
        train_cfg=None,
        test_cfg=None,
        init_cfg=None,
    ):
        BaseDetector.__init__(self, init_cfg=init_cfg)
        self.backbone = build_backbone(backbone)
        if neck is not None:
            self.neck = build_neck(neck)
        train_cfg = ConfigDict(train_cfg) if train_cfg is not None else None
        test_cfg = ConfigDict(test_cfg) if test_cfg is not None else None
        self.panoptic_head = build_head(
            dict(panoptic_head, train_cfg=train_cfg, test_cfg=test_cfg)
        )
        self.panoptic_fusion_head = build_head(
            dict(panoptic_fusion_head, test_cfg=test_cfg)
        )
        self.num_things_classes = self.panoptic_head.num_things_classes
        self.num_stuff_classes = self.panoptic_head.num_stuff_classes
        self.num_classes = self.panoptic_head.num_classes
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg

    def forward_dummy(self, img, img_metas):
        return self.panoptic_head(self.extract_feat(img), img_metas)

    def forward_train(
        self,
        img,
        img_metas,
        gt_bboxes,
        gt_labels,
        gt_masks,
        gt_semantic_seg=None,
        gt_bboxes_ignore=None,
        **kwargs,
    ):
        """Losses of a batch: things as ``gt_labels`` / ``gt_masks``,
        stuff from ``gt_semantic_seg`` (B, 1, H, W) (None: things only)."""
        BaseDetector.forward_train(self, img, img_metas)
        return self.panoptic_head.forward_train(
            self.extract_feat(img),
            img_metas,
            gt_bboxes,
            gt_labels,
            gt_masks,
            gt_semantic_seg,
            gt_bboxes_ignore,
        )

    def _ins_to_lists(self, ins_results):
        """(labels, boxes, masks) tensors -> per-class box arrays and mask
        lists."""
        labels, bboxes, masks = ins_results
        bbox_results = bbox2result(bboxes, labels, self.num_things_classes)
        mask_results = [[] for _ in range(self.num_things_classes)]
        for label, mask in zip(labels.tolist(), masks):
            mask_results[label].append(mask.detach().cpu().numpy())
        return bbox_results, mask_results

    def simple_test(self, imgs, img_metas, **kwargs):
        feats = self.extract_feat(imgs)
        mask_cls, mask_pred = self.panoptic_head.simple_test(
            feats, img_metas, **kwargs
        )
        results = self.panoptic_fusion_head.simple_test(
            mask_cls, mask_pred, img_metas, **kwargs
        )
        for result in results:
            if 'pan_results' in result:
                pan = result['pan_results']
                result['pan_results'] = pan.detach().cpu().numpy()
            if 'ins_results' in result:
                result['ins_results'] = self._ins_to_lists(
                    result['ins_results']
                )
        if self.num_stuff_classes == 0:
            return [result['ins_results'] for result in results]
        return results

    def aug_test(self, imgs, img_metas, **kwargs):
        raise NotImplementedError(
            f'{type(self).__name__} does not support test-time augmentation'
        )

    def onnx_export(self, img, img_metas):
        raise NotImplementedError(
            f'{type(self).__name__} does not support ONNX export'
        )


@DETECTORS.register_module()
class Mask2Former(MaskFormer):
    """MaskFormer's detector with Mask2Former's head (masked attention over
    multi-scale features)."""
