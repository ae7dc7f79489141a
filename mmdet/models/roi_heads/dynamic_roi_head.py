"""Dynamic R-CNN's RoI head (Zhang et al., 2020): the assigner's IoU
threshold and the SmoothL1 beta follow the training statistics."""

import numpy as np
import torch
from mmcv import ConfigDict

from mmdet.models.losses import SmoothL1Loss
from mmdet.utils.arg_errors import InvalidArgumentTypeError
from ..builder import HEADS
from ..dense_heads.cfg_check import check_cfg_keys
from .base_roi_head import TRAIN_CFG_KEYS
from .standard_roi_head import StandardRoIHead

EPS = 1e-15
DYNAMIC_KEYS = (
    'iou_topk',
    'beta_topk',
    'update_iter_interval',
    'initial_iou',
    'initial_beta',
)


@HEADS.register_module()
class DynamicRoIHead(StandardRoIHead):
    """A :class:`StandardRoIHead` that, every ``update_iter_interval``
    training iterations, sets

    * the assigner's ``pos_iou_thr = neg_iou_thr = min_pos_iou`` to
      ``max(initial_iou, mean of the iterations' IoU statistic)``, where an
      iteration's statistic is the mean over images of the ``iou_topk``-th
      largest proposal-to-gt IoU;
    * the box loss's SmoothL1 ``beta`` to ``min(initial_beta, median of the
      iterations' beta statistic)`` (unchanged when that median is ~0),
      where an iteration's statistic is the ``beta_topk * num_imgs``-th
      smallest mean ``|dx|, |dy|`` regression target of the positives.

    ``train_cfg.dynamic_rcnn`` holds these five settings.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(self.bbox_head.loss_bbox, SmoothL1Loss):
            raise InvalidArgumentTypeError(
                'DynamicRoIHead needs a SmoothL1Loss loss_bbox, got '
                f'{type(self.bbox_head.loss_bbox).__name__}'
            )
        self.iou_history = []
        self.beta_history = []

    def init_train_cfg(self, train_cfg):
        if train_cfg is not None:
            check_cfg_keys(
                train_cfg,
                TRAIN_CFG_KEYS + ('dynamic_rcnn',),
                'RoI head train_cfg',
            )
            check_cfg_keys(
                train_cfg.get('dynamic_rcnn'),
                DYNAMIC_KEYS,
                'train_cfg.dynamic_rcnn',
            )
            rest = {k: v for k, v in train_cfg.items() if k != 'dynamic_rcnn'}
            cfg = super().init_train_cfg(rest)
            cfg.dynamic_rcnn = ConfigDict(train_cfg.get('dynamic_rcnn'))
            return cfg
        return None

    def _sample(
        self, x, proposal_list, gt_bboxes, gt_labels, gt_bboxes_ignore
    ):
        """Assign and sample each image; record the iteration's IoU
        statistic."""
        if gt_bboxes_ignore is None:
            gt_bboxes_ignore = [None] * len(proposal_list)
        topk = self.train_cfg.dynamic_rcnn.iou_topk
        results, ious = [], []
        for i, proposals in enumerate(proposal_list):
            assign = self.bbox_assigner.assign(
                proposals, gt_bboxes[i], gt_bboxes_ignore[i], gt_labels[i]
            )
            results.append(
                self.bbox_sampler.sample(
                    assign,
                    proposals,
                    gt_bboxes[i],
                    gt_labels[i],
                    feats=[level[i][None] for level in x],
                )
            )
            k = min(topk, len(assign.max_overlaps))
            if k > 0:
                ious.append(assign.max_overlaps.topk(k)[0][-1].item())
        self.iou_history.append(float(np.mean(ious)) if ious else 0.0)
        return results

    def _bbox_forward_train(
        self, x, sampling_results, gt_bboxes, gt_labels, img_metas
    ):
        """As the standard head, and record the iteration's beta
        statistic (from the encoded targets of the positives)."""
        results = super()._bbox_forward_train(
            x, sampling_results, gt_bboxes, gt_labels, img_metas
        )
        _, _, targets, weights = results['bbox_targets']
        pos = weights[:, 0] > 0
        if pos.any():
            stat = targets[pos, :2].abs().mean(dim=1)
            k = min(
                self.train_cfg.dynamic_rcnn.beta_topk * len(img_metas),
                stat.numel(),
            )
            self.beta_history.append(torch.kthvalue(stat, k)[0].item())
        return results

    def forward_train(self, *args, **kwargs):
        """Losses of :class:`StandardRoIHead`, then the periodic update
        of the IoU thresholds and beta."""
        losses = super().forward_train(*args, **kwargs)
        interval = self.train_cfg.dynamic_rcnn.update_iter_interval
        if self.iou_history and len(self.iou_history) % interval == 0:
            self.update_hyperparameters()
        return losses

    def update_hyperparameters(self):
        """Apply the recorded statistics; returns ``(iou_thr, beta)``."""
        cfg = self.train_cfg.dynamic_rcnn
        iou_thr = max(cfg.initial_iou, float(np.mean(self.iou_history)))
        self.iou_history = []
        self.bbox_assigner.pos_iou_thr = iou_thr
        self.bbox_assigner.neg_iou_thr = iou_thr
        self.bbox_assigner.min_pos_iou = iou_thr
        loss_bbox = self.bbox_head.loss_bbox
        if not self.beta_history or np.median(self.beta_history) < EPS:
            beta = loss_bbox.beta
        else:
            beta = min(cfg.initial_beta, float(np.median(self.beta_history)))
        self.beta_history = []
        loss_bbox.beta = beta
        return iou_thr, beta
