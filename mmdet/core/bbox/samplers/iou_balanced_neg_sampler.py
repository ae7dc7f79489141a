import torch

from mmdet.utils.arg_errors import InvalidArgumentError
from ..builder import BBOX_SAMPLERS
from .random_sampler import RandomSampler


@BBOX_SAMPLERS.register_module()
class IoUBalancedNegSampler(RandomSampler):
    """Negatives drawn evenly over IoU bins (Libra R-CNN).

    ``1 - floor_fraction`` of the expected negatives come from those with
    IoU (to their closest gt) above ``floor_thr``, in ``num_bins`` equal
    IoU intervals from ``floor_thr`` to the largest IoU, the same number
    from each bin; the rest come at random from those below ``floor_thr``
    (IoU == 0 when ``floor_thr`` is 0); any shortfall is filled at random
    from all negatives.

    Args:
        num (int): boxes per image.
        pos_fraction (float): the largest fraction of positives.
        floor_thr (float): the IoU where balanced sampling starts; -1:
            balanced from IoU 0 up (MMDetection then sets it to 0).
        floor_fraction (float): fraction drawn below ``floor_thr``.
        num_bins (int): IoU bins of the balanced part.
    """

    def __init__(
        self,
        num,
        pos_fraction,
        floor_thr=-1,
        floor_fraction=0,
        num_bins=3,
        **kwargs,
    ):
        super().__init__(num, pos_fraction, **kwargs)
        if not (floor_thr >= 0 or floor_thr == -1):
            raise InvalidArgumentError(
                f'floor_thr must be >= 0 or -1, got {floor_thr}'
            )
        if not 0 <= floor_fraction <= 1:
            raise InvalidArgumentError(
                f'floor_fraction must be in [0, 1], got {floor_fraction}'
            )
        if num_bins < 1:
            raise InvalidArgumentError(
                f'num_bins must be >= 1, got {num_bins}'
            )
        self.floor_thr = floor_thr
        self.floor_fraction = floor_fraction
        self.num_bins = num_bins

    def _fill(self, chosen, pool, num_expected):
        """``chosen`` topped up to ``num_expected`` with random elements of
        ``pool`` not in it."""
        if chosen.numel() >= num_expected:
            return chosen
        rest = pool[~torch.isin(pool, chosen)]
        num_extra = num_expected - chosen.numel()
        if rest.numel() > num_extra:
            rest = self.random_choice(rest, num_extra)
        return torch.cat([chosen, rest])

    def sample_via_interval(self, max_overlaps, candidates, num_expected):
        """``num_expected`` of ``candidates`` (indices), the same number
        from each IoU bin in ``[floor_thr, max IoU)``; shortfall random."""
        floor = max(self.floor_thr, 0)
        step = (max_overlaps.max() - floor) / self.num_bins
        per_bin = int(num_expected / self.num_bins)
        ious = max_overlaps[candidates]
        chosen = []
        for i in range(self.num_bins):
            lo, hi = floor + i * step, floor + (i + 1) * step
            inds = candidates[(ious >= lo) & (ious < hi)]
            if inds.numel() > per_bin:
                inds = self.random_choice(inds, per_bin)
            chosen.append(inds)
        return self._fill(torch.cat(chosen), candidates, num_expected)

    def _sample_neg(self, assign_result, num_expected, **kwargs):
        """(Q,) indices of at most ``num_expected`` negatives."""
        neg_inds = torch.nonzero(
            assign_result.gt_inds == 0, as_tuple=False
        ).view(-1)
        if neg_inds.numel() <= num_expected:
            return neg_inds
        ious = assign_result.max_overlaps[neg_inds]
        if self.floor_thr > 0:
            in_floor = (ious >= 0) & (ious < self.floor_thr)
            in_bins = ious >= self.floor_thr
        else:
            in_floor = ious == 0
            in_bins = ious > 0
        floor_inds, bin_inds = neg_inds[in_floor], neg_inds[in_bins]
        num_bins_expected = int(num_expected * (1 - self.floor_fraction))
        if bin_inds.numel() > num_bins_expected:
            if self.num_bins >= 2:
                bin_inds = self.sample_via_interval(
                    assign_result.max_overlaps, bin_inds, num_bins_expected
                )
            else:
                bin_inds = self.random_choice(bin_inds, num_bins_expected)
        num_floor_expected = num_expected - bin_inds.numel()
        if floor_inds.numel() > num_floor_expected:
            floor_inds = self.random_choice(floor_inds, num_floor_expected)
        chosen = torch.cat([floor_inds, bin_inds])
        return self._fill(chosen, neg_inds, num_expected).long()
