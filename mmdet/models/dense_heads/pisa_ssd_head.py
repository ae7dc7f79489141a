"""SSD with PISA's sample re-weighting (Cao et al., 2020)."""

import torch
from mmcv.runner import force_fp32

from ..builder import HEADS
from ..losses import CrossEntropyLoss, SmoothL1Loss, carl_loss, isr_p
from .base_dense_head import flatten_level_maps
from .ssd_head import SSDHead


@HEADS.register_module()
class PISASSDHead(SSDHead):
    """:class:`SSDHead` whose ``train_cfg`` may add ``isr`` (ISR-P
    weights of the positives' classification loss, ``dict(k, bias)``)
    and ``carl`` (an extra ``loss_carl``, ``dict(k, bias)``); see
    :func:`isr_p` and :func:`carl_loss`."""

    train_cfg_keys = SSDHead.train_cfg_keys + ('isr', 'carl')

    @force_fp32(apply_to=('cls_scores', 'bbox_preds'))
    def loss(
        self,
        cls_scores,
        bbox_preds,
        gt_bboxes,
        gt_labels,
        img_metas,
        gt_bboxes_ignore=None,
    ):
        """SSD's losses per image with the PISA weights, plus
        ``loss_carl`` with ``train_cfg.carl``."""
        featmap_sizes = [score.shape[-2:] for score in cls_scores]
        anchor_list, valid_flag_list = self.get_anchors(
            featmap_sizes, img_metas, device=cls_scores[0].device
        )
        batch = self._get_targets_batch(
            anchor_list,
            valid_flag_list,
            gt_bboxes,
            img_metas,
            gt_bboxes_ignore,
            gt_labels,
        )
        if batch is None:
            return None
        labels, label_weights, bbox_targets, bbox_weights, num_pos = batch[:5]
        sampling_results = batch[6]
        num_imgs = len(img_metas)
        cls_score = flatten_level_maps(cls_scores, self.cls_out_channels)
        bbox_pred = flatten_level_maps(bbox_preds, 4)
        anchors = [torch.cat(a) for a in anchor_list]
        flat_scores = cls_score.view(-1, self.cls_out_channels)
        flat_preds = bbox_pred.view(-1, 4)
        targets = (
            labels.view(-1),
            label_weights.view(-1),
            bbox_targets.view(-1, 4),
            bbox_weights.view(-1, 4),
        )
        if self.train_cfg.get('isr') is not None:
            targets = isr_p(
                flat_scores,
                flat_preds,
                targets,
                torch.cat(anchors),
                sampling_results,
                loss_cls=CrossEntropyLoss(),
                bbox_coder=self.bbox_coder,
                **self.train_cfg['isr'],
                num_class=self.num_classes,
            )
        labels, label_weights, bbox_targets, bbox_weights = (
            t.view(num_imgs, -1, *t.shape[1:]) for t in targets
        )
        losses = dict(loss_cls=[], loss_bbox=[])
        if self.train_cfg.get('carl') is not None:
            losses.update(
                carl_loss(
                    flat_scores,
                    targets[0],
                    flat_preds,
                    targets[2],
                    SmoothL1Loss(beta=1.0),
                    **self.train_cfg['carl'],
                    avg_factor=num_pos,
                    num_class=self.num_classes,
                )
            )
        if not (
            torch.isfinite(cls_score).all() and bbox_pred.isfinite().all()
        ):
            raise FloatingPointError('SSD predictions are infinite or NaN')
        for i in range(num_imgs):
            loss_cls, loss_bbox = self.loss_single(
                cls_score[i],
                bbox_pred[i],
                anchors[i],
                labels[i],
                label_weights[i],
                bbox_targets[i],
                bbox_weights[i],
                num_pos,
            )
            losses['loss_cls'].append(loss_cls)
            losses['loss_bbox'].append(loss_bbox)
        return losses
