import torch

from ..builder import BBOX_SAMPLERS
from ..transforms import bbox2roi
from .base_sampler import BaseSampler


@BBOX_SAMPLERS.register_module()
class OHEMSampler(BaseSampler):
    """Online hard example mining (Shrivastava et al., 2016): keep the
    positives and negatives with the largest loss under the current box
    head.

    Args:
        num (int): boxes per image.
        pos_fraction (float): the largest fraction of positives.
        context (BaseRoIHead): the RoI head building this sampler; its
            ``_bbox_forward`` scores the candidates (for a cascade head,
            the stage being built: ``context.current_stage``).
        neg_pos_ub (int): bound on negatives per positive; -1: none.
        add_gt_as_proposals (bool): add the gt boxes as positives.
        loss_key (str): the entry of the head's loss that ranks the boxes.
    """

    def __init__(
        self,
        num,
        pos_fraction,
        context,
        neg_pos_ub=-1,
        add_gt_as_proposals=True,
        loss_key='loss_cls',
        **kwargs,
    ):
        super().__init__(num, pos_fraction, neg_pos_ub, add_gt_as_proposals)
        self.context = context
        if hasattr(context, 'num_stages'):
            self.stage = context.current_stage
            self.bbox_head = context.bbox_head[self.stage]
        else:
            self.stage = None
            self.bbox_head = context.bbox_head
        self.loss_key = loss_key

    def _forward(self, feats, rois):
        if self.stage is None:
            return self.context._bbox_forward(feats, rois)
        return self.context._bbox_forward(self.stage, feats, rois)

    def hard_mining(self, inds, num_expected, bboxes, labels, feats):
        """The ``num_expected`` of ``inds`` whose boxes (``bboxes``, with
        target ``labels``) have the largest per-box loss."""
        with torch.no_grad():
            rois = bbox2roi([bboxes])
            cls_score = self._forward(feats, rois)['cls_score']
            loss = self.bbox_head.loss(
                cls_score=cls_score,
                bbox_pred=None,
                rois=rois,
                labels=labels,
                label_weights=cls_score.new_ones(cls_score.size(0)),
                bbox_targets=None,
                bbox_weights=None,
                reduction_override='none',
            )[self.loss_key]
            _, top = loss.topk(num_expected)
        return inds[top]

    def _sample_pos(
        self, assign_result, num_expected, bboxes=None, feats=None, **kwargs
    ):
        """Up to ``num_expected`` positives, the hardest first."""
        pos_inds = torch.nonzero(
            assign_result.gt_inds > 0, as_tuple=False
        ).view(-1)
        if pos_inds.numel() <= num_expected:
            return pos_inds
        return self.hard_mining(
            pos_inds,
            num_expected,
            bboxes[pos_inds],
            assign_result.labels[pos_inds],
            feats,
        )

    def _sample_neg(
        self, assign_result, num_expected, bboxes=None, feats=None, **kwargs
    ):
        """Up to ``num_expected`` negatives (background label), the
        hardest first."""
        neg_inds = torch.nonzero(
            assign_result.gt_inds == 0, as_tuple=False
        ).view(-1)
        if neg_inds.numel() <= num_expected:
            return neg_inds
        neg_labels = assign_result.labels.new_full(
            (neg_inds.numel(),), self.bbox_head.num_classes
        )
        return self.hard_mining(
            neg_inds, num_expected, bboxes[neg_inds], neg_labels, feats
        )
