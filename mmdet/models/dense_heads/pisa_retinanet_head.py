"""PISA RetinaNet head: RetinaNet with ISR-P positive weights and the CARL
loss (Cao et al., 2020)."""

import torch
from mmcv.runner import force_fp32

from ..builder import HEADS
from ..losses import carl_loss, isr_p
from .anchor_head import TRAIN_CFG_KEYS
from .base_dense_head import flatten_level_maps
from .retina_head import RetinaHead


@HEADS.register_module()
class PISARetinaHead(RetinaHead):
    """:class:`RetinaHead` whose ``train_cfg`` may add ``isr`` (ISR-P) and
    ``carl`` (adds ``loss_carl``); its losses are over all anchors of the
    batch at once (one ``loss_cls``, one ``loss_bbox``)."""

    train_cfg_keys = TRAIN_CFG_KEYS + ('isr', 'carl')

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
        """``loss_cls``, ``loss_bbox`` (and ``loss_carl``) over all anchors
        of the batch; None if an image has no usable anchor."""
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
        labels, label_weights, bbox_targets, bbox_weights = (
            t.flatten(0, 1) for t in batch[:4]
        )
        num_pos, num_neg, sampling_results = batch[4:]
        avg_factor = num_pos + num_neg if self.sampling else num_pos
        anchors = torch.stack([torch.cat(a) for a in anchor_list])
        anchors = anchors.reshape(-1, 4)
        scores = flatten_level_maps(cls_scores, self.cls_out_channels)
        scores = scores.reshape(-1, self.cls_out_channels)
        preds = flatten_level_maps(bbox_preds, 4).reshape(-1, 4)
        isr_cfg = self.train_cfg.get('isr')
        if isr_cfg is not None:
            with torch.no_grad():
                labels, label_weights, bbox_targets, bbox_weights = isr_p(
                    scores,
                    preds,
                    (labels, label_weights, bbox_targets, bbox_weights),
                    anchors,
                    sampling_results,
                    bbox_coder=self.bbox_coder,
                    loss_cls=self.loss_cls,
                    num_class=self.num_classes,
                    **isr_cfg,
                )
        losses = dict(
            loss_cls=self.loss_cls(
                scores, labels, label_weights, avg_factor=avg_factor
            ),
            loss_bbox=self.loss_bbox(
                preds, bbox_targets, bbox_weights, avg_factor=avg_factor
            ),
        )
        carl_cfg = self.train_cfg.get('carl')
        if carl_cfg is not None:
            losses.update(
                carl_loss(
                    scores,
                    labels,
                    preds,
                    bbox_targets,
                    self.loss_bbox,
                    **carl_cfg,
                    avg_factor=num_pos,
                    sigmoid=True,
                    num_class=self.num_classes,
                )
            )
        return losses
