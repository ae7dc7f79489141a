"""LAD's head (Nguyen et al., "Improving Object Detection by Label
Assignment Distillation"): a PAA student trained on its teacher's PAA
label assignment."""

from mmcv.runner import force_fp32

from mmdet.core import bbox_overlaps
from ..builder import HEADS
from .paa_head import PAAHead


@HEADS.register_module()
class LADHead(PAAHead):
    """:class:`PAAHead` whose loss takes the targets the teacher's head
    computed (``get_label_assignment`` on the teacher's outputs); its box
    loss is not IoU-weighted. Arguments as :class:`PAAHead`."""

    def forward_train(
        self,
        x,
        label_assignment_results,
        img_metas,
        gt_bboxes,
        gt_labels=None,
        gt_bboxes_ignore=None,
        **kwargs,
    ):
        """Losses of the head's outputs on ``x`` against the teacher's
        ``label_assignment_results``."""
        outs = self(x)
        return self.loss(
            *outs,
            gt_bboxes,
            gt_labels,
            img_metas,
            gt_bboxes_ignore=gt_bboxes_ignore,
            label_assignment_results=label_assignment_results,
        )

    @force_fp32(apply_to=('cls_scores', 'bbox_preds', 'iou_preds'))
    def loss(
        self,
        cls_scores,
        bbox_preds,
        iou_preds,
        gt_bboxes,
        gt_labels,
        img_metas,
        gt_bboxes_ignore=None,
        label_assignment_results=None,
    ):
        """Focal, GIoU and IoU-prediction losses against the given
        assignment (the head's own PAA assignment when None)."""
        if label_assignment_results is None:
            label_assignment_results = self.get_label_assignment(
                cls_scores,
                bbox_preds,
                iou_preds,
                gt_bboxes,
                gt_labels,
                img_metas,
                gt_bboxes_ignore,
            )
        labels, label_weights, bbox_targets, _, pos, anchors, num_pos = (
            label_assignment_results
        )
        cls_scores, bbox_preds, iou_preds = self._flatten_batch(
            cls_scores, bbox_preds, iou_preds
        )
        loss_cls = self.loss_cls(
            cls_scores,
            labels,
            label_weights,
            avg_factor=max(num_pos, len(img_metas)),
        )
        if not num_pos:
            return dict(
                loss_cls=loss_cls,
                loss_bbox=bbox_preds.sum() * 0,
                loss_iou=iou_preds.sum() * 0,
            )
        decoded = self.bbox_coder.decode(anchors, bbox_preds[pos])
        targets = bbox_targets[pos]
        ious = bbox_overlaps(decoded.detach(), targets, is_aligned=True)
        loss_iou = self.loss_centerness(
            iou_preds[pos], ious.unsqueeze(-1), avg_factor=num_pos
        )
        loss_bbox = self.loss_bbox(decoded, targets, avg_factor=num_pos)
        return dict(loss_cls=loss_cls, loss_bbox=loss_bbox, loss_iou=loss_iou)
