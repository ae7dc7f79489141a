import torch

from ..builder import BBOX_SAMPLERS
from .random_sampler import RandomSampler


@BBOX_SAMPLERS.register_module()
class InstanceBalancedPosSampler(RandomSampler):
    """Positives spread evenly over the gt instances (Libra R-CNN).

    Each gt keeps at most ``round(num_expected / num_gts) + 1`` of its
    positives (random); a shortfall is filled with random other positives,
    an excess is cut at random to ``num_expected``.
    """

    def _sample_pos(self, assign_result, num_expected, **kwargs):
        """(P,) indices of at most ``num_expected`` positives."""
        gt_inds = assign_result.gt_inds
        pos_inds = torch.nonzero(gt_inds > 0, as_tuple=False).view(-1)
        if pos_inds.numel() <= num_expected:
            return pos_inds
        instances = gt_inds[pos_inds].unique()
        num_per_gt = int(round(num_expected / float(len(instances))) + 1)
        chosen = []
        for gt in instances:
            inds = torch.nonzero(gt_inds == gt, as_tuple=False).view(-1)
            if inds.numel() > num_per_gt:
                inds = self.random_choice(inds, num_per_gt)
            chosen.append(inds)
        chosen = torch.cat(chosen)
        if chosen.numel() < num_expected:
            rest = pos_inds[~torch.isin(pos_inds, chosen)]
            num_extra = num_expected - chosen.numel()
            if rest.numel() > num_extra:
                rest = self.random_choice(rest, num_extra)
            chosen = torch.cat([chosen, rest])
        elif chosen.numel() > num_expected:
            chosen = self.random_choice(chosen, num_expected)
        return chosen
