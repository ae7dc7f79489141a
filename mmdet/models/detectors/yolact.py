"""YOLACT (https://arxiv.org/abs/1904.02689): a one-stage box detector whose
boxes carry coefficients of shared prototype masks."""

import torch

from mmdet.core import bbox2result
from ..builder import DETECTORS, build_head
from .single_stage import SingleStageDetector


def _masks_as_uint8(masks, device):
    if isinstance(masks, torch.Tensor):
        return masks.to(device=device, dtype=torch.uint8)
    return masks.to_tensor(dtype=torch.uint8, device=device)


@DETECTORS.register_module()
class YOLACT(SingleStageDetector):
    """``bbox_head`` (YOLACTHead), ``segm_head`` (training-only semantic
    loss) and ``mask_head`` (YOLACTProtonet) on the FPN levels.

    ``simple_test`` gives per image ``(bbox_results, segm_results)``, per
    class an (n, 5) array and a list of (H, W) uint8 masks.
    """

    def __init__(
        self,
        backbone,
        neck,
        bbox_head,
        segm_head,
        mask_head,
        train_cfg=None,
        test_cfg=None,
        pretrained=None,
        init_cfg=None,
    ):
        super().__init__(
            backbone,
            neck,
            bbox_head,
            train_cfg,
            test_cfg,
            pretrained,
            init_cfg,
        )
        self.segm_head = build_head(segm_head)
        self.mask_head = build_head(mask_head)

    def forward_dummy(self, img):
        feat = self.extract_feat(img)
        return self.bbox_head(feat), self.mask_head.forward_dummy(feat[0])

    def forward_train(
        self,
        img,
        img_metas,
        gt_bboxes,
        gt_labels,
        gt_bboxes_ignore=None,
        gt_masks=None,
    ):
        """Box, semantic and mask losses (lists per image / level)."""
        gt_masks = [_masks_as_uint8(m, img.device) for m in gt_masks]
        x = self.extract_feat(img)
        cls_score, bbox_pred, coeff_pred = self.bbox_head(x)
        losses, sampling_results = self.bbox_head.loss(
            cls_score,
            bbox_pred,
            gt_bboxes,
            gt_labels,
            img_metas,
            gt_bboxes_ignore=gt_bboxes_ignore,
        )
        losses.update(
            self.segm_head.loss(self.segm_head(x[0]), gt_masks, gt_labels)
        )
        mask_pred = self.mask_head(
            x[0], coeff_pred, gt_bboxes, img_metas, sampling_results
        )
        losses.update(
            self.mask_head.loss(
                mask_pred, gt_masks, gt_bboxes, img_metas, sampling_results
            )
        )
        for name, value in losses.items():
            if not torch.isfinite(torch.stack(value)).all():
                raise FloatingPointError(f'{name} becomes infinite or NaN!')
        return losses

    def simple_test(self, img, img_metas, rescale=False):
        feat = self.extract_feat(img)
        det_bboxes, det_labels, det_coeffs = self.bbox_head.simple_test(
            feat, img_metas, rescale=rescale
        )
        num_classes = self.bbox_head.num_classes
        bbox_results = [
            bbox2result(b, lab, num_classes)
            for b, lab in zip(det_bboxes, det_labels)
        ]
        segm_results = self.mask_head.simple_test(
            feat,
            det_bboxes,
            det_labels,
            det_coeffs,
            img_metas,
            rescale=rescale,
        )
        return list(zip(bbox_results, segm_results))

    def aug_test(self, imgs, img_metas, rescale=False):
        raise NotImplementedError(
            'YOLACT does not support test-time augmentation'
        )
