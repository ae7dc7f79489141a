"""PointRend's RoI head (Kirillov et al., 2020): a coarse mask per RoI,
refined at its most uncertain points by the point head."""

import torch
import torch.nn.functional as F
from mmcv import ConfigDict

from mmdet.core import bbox2roi
from mmdet.models.utils.point_sample import (
    point_sample,
    rel_roi_point_to_rel_img_point,
)
from mmdet.utils.arg_errors import check_arg
from ..builder import HEADS, build_head
from ..dense_heads.cfg_check import check_cfg_keys
from .base_roi_head import TEST_CFG_KEYS, TRAIN_CFG_KEYS
from .standard_roi_head import StandardRoIHead
from .test_mixins import mask_inputs, seg_masks_per_image

POINT_TRAIN_KEYS = (
    'num_points',
    'oversample_ratio',
    'importance_sample_ratio',
)
POINT_TEST_KEYS = (
    'subdivision_steps',
    'subdivision_num_points',
    'scale_factor',
)


@HEADS.register_module()
class PointRendRoIHead(StandardRoIHead):
    """StandardRoIHead (box and coarse mask branches) plus ``point_head``.

    Training adds ``loss_point`` on ``train_cfg.num_points`` points per
    positive RoI; testing upsamples the coarse logits ``scale_factor`` x
    per step, ``subdivision_steps`` times, re-predicting the
    ``subdivision_num_points`` most uncertain cells each time.
    """

    def __init__(self, point_head, *args, **kwargs):
        super().__init__(*args, **kwargs)
        check_arg(
            self.with_bbox and self.with_mask,
            'PointRendRoIHead',
            'needs a bbox head and a mask head',
        )
        self.init_point_head(point_head)

    def init_point_head(self, point_head):
        self.point_head = build_head(point_head)

    def init_train_cfg(self, train_cfg):
        keys = TRAIN_CFG_KEYS + POINT_TRAIN_KEYS
        check_cfg_keys(train_cfg, keys, 'RoI head train_cfg')
        return ConfigDict(train_cfg) if train_cfg is not None else None

    def init_test_cfg(self, test_cfg):
        keys = TEST_CFG_KEYS + POINT_TEST_KEYS
        check_cfg_keys(test_cfg, keys, 'RoI head test_cfg')
        return ConfigDict(test_cfg) if test_cfg is not None else None

    # ---------------------------------------------------------- training
    def _mask_forward_train(
        self, x, sampling_results, bbox_feats, gt_masks, img_metas
    ):
        mask_results = super()._mask_forward_train(
            x, sampling_results, bbox_feats, gt_masks, img_metas
        )
        if mask_results['loss_mask'] is not None:
            mask_results['loss_mask'].update(
                self._mask_point_forward_train(
                    x,
                    sampling_results,
                    mask_results['mask_pred'],
                    gt_masks,
                    img_metas,
                )
            )
        return mask_results

    def _mask_point_forward_train(
        self, x, sampling_results, mask_pred, gt_masks, img_metas
    ):
        labels = torch.cat([res.pos_gt_labels for res in sampling_results])
        points = self.point_head.get_roi_rel_points_train(
            mask_pred, labels, cfg=self.train_cfg
        )
        rois = bbox2roi([res.pos_bboxes for res in sampling_results])
        fine = self._get_fine_grained_point_feats(x, rois, points, img_metas)
        coarse = point_sample(mask_pred, points)
        point_pred = self.point_head(fine, coarse)
        targets = self.point_head.get_targets(
            rois, points, sampling_results, gt_masks, self.train_cfg
        )
        return self.point_head.loss(point_pred, targets, labels)

    def _get_fine_grained_point_feats(
        self, x, rois, rel_roi_points, img_metas
    ):
        """(K, C * levels, P) features of the mask extractor's levels at
        the RoI points (RoIs grouped by image, in image order)."""
        extractor = self.mask_roi_extractor
        levels = []
        for idx in range(extractor.num_inputs):
            scale = 1.0 / float(extractor.featmap_strides[idx])
            per_image = []
            for b in range(len(img_metas)):
                feat = x[idx][b : b + 1]
                inds = rois[:, 0].long() == b
                if inds.any():
                    points = rel_roi_point_to_rel_img_point(
                        rois[inds], rel_roi_points[inds], feat.shape[2:], scale
                    )
                    sampled = point_sample(feat, points.unsqueeze(0))
                    per_image.append(sampled.squeeze(0).transpose(0, 1))
            levels.append(torch.cat(per_image, dim=0))
        return torch.cat(levels, dim=1)

    # --------------------------------------------------------- inference
    def _mask_point_forward_test(
        self, x, rois, label_pred, mask_pred, img_metas
    ):
        """(K, C, h, w) coarse logits -> refined (K, C, h * s^n, w * s^n)."""
        cfg = self.test_cfg
        refined = mask_pred.clone()
        for step in range(cfg.subdivision_steps):
            refined = F.interpolate(
                refined,
                scale_factor=cfg.scale_factor,
                mode='bilinear',
                align_corners=False,
            )
            num_rois, channels, height, width = refined.shape
            # every cell would be re-predicted: defer to the next step
            if (
                cfg.subdivision_num_points
                >= cfg.scale_factor**2 * height * width
                and step < cfg.subdivision_steps - 1
            ):
                continue
            point_indices, points = self.point_head.get_roi_rel_points_test(
                refined, label_pred, cfg=cfg
            )
            fine = self._get_fine_grained_point_feats(
                x, rois, points, img_metas
            )
            coarse = point_sample(mask_pred, points)
            point_pred = self.point_head(fine, coarse)
            index = point_indices.unsqueeze(1).expand(-1, channels, -1)
            refined = (
                refined.reshape(num_rois, channels, height * width)
                .scatter_(2, index, point_pred)
                .view(num_rois, channels, height, width)
            )
        return refined

    def simple_test_mask(
        self, x, img_metas, det_bboxes, det_labels, rescale=False
    ):
        """Per image, per class binary masks from the refined logits."""
        num_classes = self.mask_head.num_classes
        if all(b.size(0) == 0 for b in det_bboxes):
            return [[[] for _ in range(num_classes)] for _ in det_bboxes]
        scale_factors, input_bboxes = mask_inputs(
            det_bboxes, img_metas, rescale
        )
        mask_rois = bbox2roi(input_bboxes)
        counts = [len(b) for b in det_bboxes]
        mask_preds = self._mask_forward(x, mask_rois)['mask_pred'].split(
            counts
        )
        mask_rois = mask_rois.split(counts)
        refined = []
        for i, (preds, rois) in enumerate(zip(mask_preds, mask_rois)):
            if rois.size(0) == 0:
                refined.append(preds)
                continue
            rois = rois.clone()
            rois[:, 0] = 0  # this image's features are alone in x_i
            x_i = [level[i : i + 1] for level in x]
            refined.append(
                self._mask_point_forward_test(
                    x_i, rois, det_labels[i], preds, [img_metas[i]]
                )
            )
        return seg_masks_per_image(
            self.mask_head,
            refined,
            input_bboxes,
            det_labels,
            img_metas,
            scale_factors,
            self.test_cfg,
            rescale,
        )
