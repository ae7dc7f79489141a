"""Localization distillation head (Zheng et al., "Localization
Distillation for Dense Object Detection"): a GFL head whose side
distributions also learn the teacher's (KL divergence at temperature T)."""

from mmcv.runner import force_fp32

from mmdet.core import reduce_mean
from ..builder import HEADS, build_loss
from .gfl_head import GFLHead


@HEADS.register_module()
class LDHead(GFLHead):
    """:class:`GFLHead` plus ``loss_ld`` on the positives' side logits
    against the teacher's.

    Args:
        num_classes (int): object classes, background excluded.
        in_channels (int): channels of the input feature maps.
        loss_ld (dict): the distillation loss (MMDetection's default names
            a type it does not register; configs give
            ``KnowledgeDistillationKLDivLoss``).
        **kwargs: :class:`GFLHead`'s arguments.
    """

    def __init__(
        self,
        num_classes,
        in_channels,
        loss_ld=dict(
            type='LocalizationDistillationLoss', loss_weight=0.25, T=10
        ),
        **kwargs,
    ):
        super().__init__(num_classes, in_channels, **kwargs)
        self.loss_ld = build_loss(loss_ld)

    def forward_train(
        self,
        x,
        out_teacher,
        img_metas,
        gt_bboxes,
        gt_labels=None,
        gt_bboxes_ignore=None,
        proposal_cfg=None,
        **kwargs,
    ):
        """Losses against the gt and the teacher's outputs ``out_teacher``
        ((cls_scores, bbox_preds) per level); with ``proposal_cfg`` also
        the detections."""
        outs = self(x)
        losses = self.loss(
            *outs,
            gt_bboxes,
            gt_labels,
            out_teacher[1],
            img_metas,
            gt_bboxes_ignore=gt_bboxes_ignore,
        )
        if proposal_cfg is None:
            return losses
        proposals = self.get_bboxes(
            *outs, img_metas=img_metas, cfg=proposal_cfg
        )
        return losses, proposals

    @force_fp32(apply_to=('cls_scores', 'bbox_preds'))
    def loss(
        self,
        cls_scores,
        bbox_preds,
        gt_bboxes,
        gt_labels,
        soft_target,
        img_metas,
        gt_bboxes_ignore=None,
    ):
        """GFL's losses plus ``loss_ld``; ``soft_target`` is the teacher's
        per-level (B, 4 * (reg_max + 1), H, W) side logits. The box losses
        are averaged over the weight sum (not clamped to 1, as
        MMDetection), the distillation loss is not.

        Returns:
            dict[str, list[Tensor]]: ``loss_cls``, ``loss_bbox``,
            ``loss_dfl``, ``loss_ld``.
        """
        per_level = self._level_losses(
            cls_scores, bbox_preds, gt_bboxes, gt_labels, img_metas,
            gt_bboxes_ignore, soft_target,
        )  # fmt: skip
        if per_level is None:
            return None
        losses_cls, losses_bbox, losses_dfl, losses_ld, weight_sums = zip(
            *per_level
        )
        avg = reduce_mean(sum(weight_sums) + 1e-6).item()
        return dict(
            loss_cls=list(losses_cls),
            loss_bbox=[loss / avg for loss in losses_bbox],
            loss_dfl=[loss / avg for loss in losses_dfl],
            loss_ld=list(losses_ld),
        )

    def loss_single(
        self,
        anchors,
        cls_score,
        bbox_pred,
        labels,
        label_weights,
        bbox_targets,
        stride,
        soft_targets,
        num_total_samples,
    ):
        """:meth:`GFLHead.loss_single`'s losses with ``loss_ld`` (of the
        teacher's (B, 4 * (reg_max + 1), H, W) logits) before the weight
        sum."""
        flat = self._flatten_level(
            anchors, cls_score, bbox_pred, labels, label_weights, bbox_targets
        )
        pos = self._positive_terms(flat, stride[0])
        loss_cls, loss_bbox, loss_dfl, weight_sum = self._losses_from_terms(
            flat, pos, num_total_samples
        )
        if pos is None:
            loss_ld = flat['bbox_pred'].sum() * 0
        else:
            soft = soft_targets.permute(0, 2, 3, 1).reshape(
                -1, 4 * (self.reg_max + 1)
            )
            loss_ld = self.loss_ld(
                pos['corners'],
                soft[pos['inds']].reshape(-1, self.reg_max + 1),
                weight=pos['corner_weight'],
                avg_factor=4.0,
            )
        return loss_cls, loss_bbox, loss_dfl, loss_ld, weight_sum
