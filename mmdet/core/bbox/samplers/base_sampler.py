"""Sampling a fixed-size mini-batch of positive and negative boxes."""

from abc import ABCMeta, abstractmethod

import torch

from .sampling_result import SamplingResult


class BaseSampler(metaclass=ABCMeta):
    """Base class of samplers.

    Args:
        num (int): number of boxes to sample per image.
        pos_fraction (float): the largest fraction of positives.
        neg_pos_ub (int): at most ``neg_pos_ub`` negatives per positive
            (counting at least one positive); negative: no bound.
        add_gt_as_proposals (bool): add the gt boxes to the boxes to
            sample from, as positives.
        **kwargs: ignored (e.g. ``context``, the head building it).
    """

    def __init__(
        self,
        num,
        pos_fraction,
        neg_pos_ub=-1,
        add_gt_as_proposals=True,
        **kwargs,
    ):
        self.num = num
        self.pos_fraction = pos_fraction
        self.neg_pos_ub = neg_pos_ub
        self.add_gt_as_proposals = add_gt_as_proposals
        self.pos_sampler = self
        self.neg_sampler = self

    @abstractmethod
    def _sample_pos(self, assign_result, num_expected, **kwargs):
        """(P,) indices of at most ``num_expected`` positives."""

    @abstractmethod
    def _sample_neg(self, assign_result, num_expected, **kwargs):
        """(Q,) indices of at most ``num_expected`` negatives."""

    def sample(
        self, assign_result, bboxes, gt_bboxes, gt_labels=None, **kwargs
    ):
        """Sample positives and negatives.

        Up to ``num * pos_fraction`` positives are drawn, then negatives
        fill the batch to ``num`` (bounded by ``neg_pos_ub``).

        Args:
            assign_result (:obj:`AssignResult`): the assignment of
                ``bboxes``; with ``add_gt_as_proposals`` it is extended in
                place by the gt boxes.
            bboxes (Tensor): (N, 4) boxes (a 5th column is dropped).
            gt_bboxes (Tensor): (K, 4) gt boxes.
            gt_labels (Tensor, optional): (K,) labels; required when gt
                boxes are added.
            **kwargs: passed to ``_sample_pos`` / ``_sample_neg``.

        Returns:
            :obj:`SamplingResult`: indices refer to the boxes with the gt
            boxes (if added) first.
        """
        if bboxes.dim() < 2:
            bboxes = bboxes[None, :]
        bboxes = bboxes[:, :4]
        gt_flags = bboxes.new_zeros((bboxes.shape[0],), dtype=torch.uint8)
        if self.add_gt_as_proposals and len(gt_bboxes) > 0:
            if gt_labels is None:
                raise ValueError(
                    'gt_labels must be given when add_gt_as_proposals is True'
                )
            bboxes = torch.cat([gt_bboxes[:, :4].to(bboxes), bboxes])
            assign_result.add_gt_(gt_labels)
            gt_flags = torch.cat(
                [
                    bboxes.new_ones(gt_bboxes.shape[0], dtype=torch.uint8),
                    gt_flags,
                ]
            )

        num_expected_pos = int(self.num * self.pos_fraction)
        pos_inds = self.pos_sampler._sample_pos(
            assign_result, num_expected_pos, bboxes=bboxes, **kwargs
        )
        pos_inds = pos_inds.unique()
        num_sampled_pos = pos_inds.numel()

        num_expected_neg = self.num - num_sampled_pos
        if self.neg_pos_ub >= 0:
            neg_upper_bound = int(self.neg_pos_ub * max(1, num_sampled_pos))
            num_expected_neg = min(num_expected_neg, neg_upper_bound)
        neg_inds = self.neg_sampler._sample_neg(
            assign_result, num_expected_neg, bboxes=bboxes, **kwargs
        )
        neg_inds = neg_inds.unique()

        return SamplingResult(
            pos_inds, neg_inds, bboxes, gt_bboxes, assign_result, gt_flags
        )
