"""One-stage instance segmentors: backbone, neck, optional box head, mask
head (SOLO, SOLOv2, YOLACT-style)."""

import copy
import warnings

import numpy as np
import torch
from mmcv import ConfigDict

from mmdet.core.mask import with_mask_boxes
from mmdet.utils.arg_errors import InvalidArgumentError
from ..builder import DETECTORS, build_backbone, build_head, build_neck
from .base import BaseDetector


def _with_cfgs(head, train_cfg, test_cfg):
    head = copy.deepcopy(head)
    head.update(
        train_cfg=copy.deepcopy(train_cfg), test_cfg=copy.deepcopy(test_cfg)
    )
    return build_head(head)


def _masks_as_bool_tensor(masks, device):
    if isinstance(masks, torch.Tensor):
        return masks.to(device=device, dtype=torch.bool)
    return masks.to_tensor(dtype=torch.bool, device=device)


@DETECTORS.register_module()
class SingleStageInstanceSegmentor(BaseDetector):
    """Backbone -> neck -> (box head ->) mask head.

    ``simple_test`` returns per image ``(bbox_results, mask_results)``:
    per class an (n, 5) float32 array of boxes + scores (zeros for the box
    when the mask head gives none) and a list of (H, W) bool masks.
    """

    def __init__(
        self,
        backbone,
        neck=None,
        bbox_head=None,
        mask_head=None,
        train_cfg=None,
        test_cfg=None,
        pretrained=None,
        init_cfg=None,
    ):
        if pretrained:
            warnings.warn(
                'DeprecationWarning: pretrained is deprecated, '
                'please use "init_cfg" instead'
            )
            backbone.pretrained = pretrained
        super().__init__(init_cfg=init_cfg)
        if not mask_head:
            raise InvalidArgumentError(
                f'{type(self).__name__}: mask_head must be given'
            )
        train_cfg = ConfigDict(train_cfg) if train_cfg is not None else None
        test_cfg = ConfigDict(test_cfg) if test_cfg is not None else None
        self.backbone = build_backbone(backbone)
        self.neck = build_neck(neck) if neck is not None else None
        self.bbox_head = None
        if bbox_head is not None:
            self.bbox_head = _with_cfgs(bbox_head, train_cfg, test_cfg)
        self.mask_head = _with_cfgs(mask_head, train_cfg, test_cfg)
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg

    def extract_feat(self, img):
        """Backbone (and neck) features of a (B, 3, H, W) batch."""
        x = self.backbone(img)
        return self.neck(x) if self.with_neck else x

    def forward_dummy(self, img):
        raise NotImplementedError(
            f'forward_dummy is not implemented in {type(self).__name__}'
        )

    def forward_train(
        self,
        img,
        img_metas,
        gt_masks,
        gt_labels,
        gt_bboxes=None,
        gt_bboxes_ignore=None,
        **kwargs,
    ):
        """Loss dict; ``gt_masks`` BitmapMasks (or (n, H, W) tensors)."""
        gt_masks = [_masks_as_bool_tensor(m, img.device) for m in gt_masks]
        x = self.extract_feat(img)
        losses, positive_infos = {}, None
        if self.bbox_head:
            det_losses, positive_infos = self.bbox_head.loss(
                *self.bbox_head(x),
                gt_bboxes=gt_bboxes,
                gt_labels=gt_labels,
                gt_masks=gt_masks,
                img_metas=img_metas,
                gt_bboxes_ignore=gt_bboxes_ignore,
                **kwargs,
            )
            losses.update(det_losses)
        mask_losses = self.mask_head.forward_train(
            x,
            gt_labels,
            gt_masks,
            img_metas,
            positive_infos=positive_infos,
            gt_bboxes=gt_bboxes,
            gt_bboxes_ignore=gt_bboxes_ignore,
            **kwargs,
        )
        if set(mask_losses) & set(losses):
            raise RuntimeError('box and mask heads return the same loss key')
        losses.update(mask_losses)
        return losses

    def simple_test(self, img, img_metas, rescale=False):
        """Per image ``(bbox_results, mask_results)`` (see the class doc)."""
        feats = self.extract_feat(img)
        results_list = None
        if self.bbox_head:
            results_list = self.bbox_head.get_results(
                *self.bbox_head(feats),
                img_metas=img_metas,
                cfg=self.test_cfg,
                rescale=rescale,
            )
        results_list = self.mask_head.simple_test(
            feats, img_metas, rescale=rescale, instances_list=results_list
        )
        return [self.format_results(r) for r in results_list]

    def format_results(self, results):
        """Result dict (scores, labels, masks[, bboxes]) -> per-class lists."""
        num_classes = self.mask_head.num_classes
        mask_results = [[] for _ in range(num_classes)]
        if len(results['scores']) == 0:
            empty = np.zeros((0, 5), dtype=np.float32)
            return [empty.copy() for _ in range(num_classes)], mask_results
        scores = results['scores']
        bboxes = results.get('bboxes')
        if bboxes is None:
            bboxes = scores.new_zeros(len(scores), 4)
        dets = torch.cat([bboxes, scores[:, None]], -1).detach().cpu().numpy()
        labels = results['labels'].detach().cpu().numpy()
        bbox_results = [dets[labels == i, :] for i in range(num_classes)]
        for mask, label in zip(
            results['masks'].detach().cpu().numpy(), labels
        ):
            mask_results[label].append(mask)
        return bbox_results, mask_results

    def show_result(self, img, result, **kwargs):
        """As ``BaseDetector.show_result``; when the head gives no boxes
        (all zero) each drawn box is its mask's tight box."""
        return super().show_result(img, with_mask_boxes(result), **kwargs)

    def aug_test(self, imgs, img_metas, rescale=False):
        raise NotImplementedError(
            f'{type(self).__name__} has no test-time augmentation'
        )
