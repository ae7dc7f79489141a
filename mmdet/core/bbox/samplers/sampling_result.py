"""The boxes a sampler picked, with their targets."""

import numpy as np
import torch


class SamplingResult:
    """Positive and negative boxes sampled from an assignment.

    Args:
        pos_inds (Tensor): (P,) indices of the positive boxes in ``bboxes``.
        neg_inds (Tensor): (Q,) indices of the negative boxes.
        bboxes (Tensor): (N, 4) the boxes sampled from (gt boxes first if
            the sampler added them).
        gt_bboxes (Tensor): (K, 4) gt boxes.
        assign_result (:obj:`AssignResult`): the assignment of ``bboxes``.
        gt_flags (Tensor): (N,) uint8, 1 for the boxes that are gt boxes.

    Attributes:
        pos_bboxes, neg_bboxes (Tensor): (P, 4) and (Q, 4) boxes.
        pos_is_gt (Tensor): (P,) uint8, whether a positive is a gt box.
        num_gts (int): K.
        pos_assigned_gt_inds (Tensor): (P,) index of each positive's gt.
        pos_gt_bboxes (Tensor): (P, 4) each positive's gt box.
        pos_gt_labels (Tensor | None): (P,) each positive's gt label.
    """

    def __init__(
        self, pos_inds, neg_inds, bboxes, gt_bboxes, assign_result, gt_flags
    ):
        self.pos_inds = pos_inds
        self.neg_inds = neg_inds
        self.pos_bboxes = bboxes[pos_inds]
        self.neg_bboxes = bboxes[neg_inds]
        self.pos_is_gt = gt_flags[pos_inds]
        self.num_gts = gt_bboxes.shape[0]
        self.pos_assigned_gt_inds = assign_result.gt_inds[pos_inds] - 1
        if gt_bboxes.numel() == 0:
            if self.pos_assigned_gt_inds.numel() != 0:
                raise ValueError('positives sampled but there is no gt box')
            self.pos_gt_bboxes = gt_bboxes.new_zeros((0, 4))
        else:
            self.pos_gt_bboxes = gt_bboxes.view(-1, 4)[
                self.pos_assigned_gt_inds.long()
            ]
        self.pos_gt_labels = (
            None
            if assign_result.labels is None
            else assign_result.labels[pos_inds]
        )

    @property
    def bboxes(self):
        """Tensor: (P + Q, 4) positives then negatives."""
        return torch.cat([self.pos_bboxes, self.neg_bboxes])

    def to(self, device):
        """Move every tensor to ``device`` (in place); returns self."""
        for key, value in vars(self).items():
            if isinstance(value, torch.Tensor):
                setattr(self, key, value.to(device))
        return self

    @property
    def info(self):
        """dict: the main attributes."""
        return dict(
            pos_inds=self.pos_inds,
            neg_inds=self.neg_inds,
            pos_bboxes=self.pos_bboxes,
            neg_bboxes=self.neg_bboxes,
            pos_is_gt=self.pos_is_gt,
            num_gts=self.num_gts,
            pos_assigned_gt_inds=self.pos_assigned_gt_inds,
        )

    def __repr__(self):
        return (
            f'<SamplingResult(num_gts={self.num_gts}, '
            f'pos={len(self.pos_inds)}, neg={len(self.neg_inds)})>'
        )

    @classmethod
    def random(cls, rng=None, **kwargs):
        """A random sampling result, for tests: a random assignment
        (``AssignResult.random(rng=rng, **kwargs)``) of random boxes, of
        which at most 16 positives and 32 in all are drawn at random (what
        a ``RandomSampler(32, 0.5)`` keeps)."""
        from mmdet.core.bbox.demodata import ensure_rng, random_boxes
        from ..assigners.assign_result import AssignResult

        rng = ensure_rng(rng)
        assign_result = AssignResult.random(rng=rng, **kwargs)
        bboxes = random_boxes(assign_result.num_preds, rng=rng)
        gt_bboxes = random_boxes(assign_result.num_gts, rng=rng)
        inds = assign_result.gt_inds.numpy()
        positives = rng.permutation(np.flatnonzero(inds > 0))[:16]
        negatives = rng.permutation(np.flatnonzero(inds == 0))
        negatives = negatives[: 32 - len(positives)]
        return cls(
            torch.from_numpy(positives).long(),
            torch.from_numpy(negatives).long(),
            bboxes,
            gt_bboxes,
            assign_result,
            torch.zeros(len(bboxes), dtype=torch.uint8),
        )
