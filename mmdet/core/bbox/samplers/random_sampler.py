import torch

from ..builder import BBOX_SAMPLERS
from .base_sampler import BaseSampler


@BBOX_SAMPLERS.register_module()
class RandomSampler(BaseSampler):
    """Sample positives and negatives uniformly at random (torch's RNG).

    Args:
        num (int): number of boxes to sample per image.
        pos_fraction (float): the largest fraction of positives.
        neg_pos_ub (int): bound on negatives per positive; -1: none.
        add_gt_as_proposals (bool): add the gt boxes as positives.
    """

    def __init__(
        self,
        num,
        pos_fraction,
        neg_pos_ub=-1,
        add_gt_as_proposals=True,
        **kwargs,
    ):
        super().__init__(num, pos_fraction, neg_pos_ub, add_gt_as_proposals)

    @staticmethod
    def random_choice(gallery, num):
        """``num`` distinct elements of ``gallery`` (a tensor, list or
        array), as a tensor on the gallery's device."""
        if not isinstance(gallery, torch.Tensor):
            gallery = torch.as_tensor(gallery, dtype=torch.long)
        if num > gallery.numel():
            raise ValueError(f'cannot choose {num} of {gallery.numel()}')
        perm = torch.randperm(gallery.numel())[:num].to(gallery.device)
        return gallery[perm]

    def _sample_from(self, mask, num_expected):
        inds = torch.nonzero(mask, as_tuple=False).view(-1)
        if inds.numel() <= num_expected:
            return inds
        return self.random_choice(inds, num_expected)

    def _sample_pos(self, assign_result, num_expected, **kwargs):
        """Up to ``num_expected`` random positives (gt_inds > 0)."""
        return self._sample_from(assign_result.gt_inds > 0, num_expected)

    def _sample_neg(self, assign_result, num_expected, **kwargs):
        """Up to ``num_expected`` random negatives (gt_inds == 0)."""
        return self._sample_from(assign_result.gt_inds == 0, num_expected)
