"""Take every matched query: the sampler of the mask-query heads."""

import torch

from ..builder import BBOX_SAMPLERS
from .base_sampler import BaseSampler
from .sampling_result import SamplingResult


class MaskSamplingResult(SamplingResult):
    """``SamplingResult`` over masks: ``pos_masks`` / ``neg_masks`` are the
    positive / negative queries' masks, ``pos_gt_masks`` each positive's gt
    mask."""

    def __init__(
        self, pos_inds, neg_inds, masks, gt_masks, assign_result, gt_flags
    ):
        self.pos_inds = pos_inds
        self.neg_inds = neg_inds
        self.pos_masks = masks[pos_inds]
        self.neg_masks = masks[neg_inds]
        self.pos_is_gt = gt_flags[pos_inds]
        self.num_gts = gt_masks.shape[0]
        self.pos_assigned_gt_inds = assign_result.gt_inds[pos_inds] - 1
        if gt_masks.numel() == 0:
            if self.pos_assigned_gt_inds.numel() != 0:
                raise ValueError('positives sampled but there is no gt mask')
            self.pos_gt_masks = torch.empty_like(gt_masks)
        else:
            self.pos_gt_masks = gt_masks[self.pos_assigned_gt_inds]
        self.pos_gt_labels = (
            None
            if assign_result.labels is None
            else assign_result.labels[pos_inds]
        )

    @property
    def masks(self):
        """Tensor: the positives' then the negatives' masks."""
        return torch.cat([self.pos_masks, self.neg_masks])


@BBOX_SAMPLERS.register_module()
class MaskPseudoSampler(BaseSampler):
    """Every positive and negative query of the assignment, no sampling."""

    def __init__(self, **kwargs):
        pass

    def _sample_pos(self, **kwargs):
        raise NotImplementedError

    def _sample_neg(self, **kwargs):
        raise NotImplementedError

    def sample(self, assign_result, masks, gt_masks, **kwargs):
        """(N, H, W) query masks and (M, H, W) gt masks ->
        :obj:`MaskSamplingResult`."""
        gt_inds = assign_result.gt_inds
        pos_inds = torch.nonzero(gt_inds > 0).view(-1).unique()
        neg_inds = torch.nonzero(gt_inds == 0).view(-1).unique()
        gt_flags = masks.new_zeros(masks.shape[0], dtype=torch.uint8)
        return MaskSamplingResult(
            pos_inds, neg_inds, masks, gt_masks, assign_result, gt_flags
        )
