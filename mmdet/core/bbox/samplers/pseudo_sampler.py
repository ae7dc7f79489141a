import torch

from ..builder import BBOX_SAMPLERS
from .base_sampler import BaseSampler
from .sampling_result import SamplingResult


@BBOX_SAMPLERS.register_module()
class PseudoSampler(BaseSampler):
    """Take every positive and every negative: no sampling, no gt boxes
    added (for heads whose loss weighs the boxes itself)."""

    def __init__(self, **kwargs):
        pass

    def _sample_pos(self, **kwargs):
        raise NotImplementedError

    def _sample_neg(self, **kwargs):
        raise NotImplementedError

    def sample(self, assign_result, bboxes, gt_bboxes, *args, **kwargs):
        """All positives and negatives of ``assign_result``.

        Args:
            assign_result (:obj:`AssignResult`): the assignment.
            bboxes (Tensor): (N, 4) boxes.
            gt_bboxes (Tensor): (K, 4) gt boxes.

        Returns:
            :obj:`SamplingResult`
        """
        pos_inds = (
            torch.nonzero(assign_result.gt_inds > 0, as_tuple=False)
            .view(-1)
            .unique()
        )
        neg_inds = (
            torch.nonzero(assign_result.gt_inds == 0, as_tuple=False)
            .view(-1)
            .unique()
        )
        gt_flags = bboxes.new_zeros(bboxes.shape[0], dtype=torch.uint8)
        return SamplingResult(
            pos_inds, neg_inds, bboxes, gt_bboxes, assign_result, gt_flags
        )
