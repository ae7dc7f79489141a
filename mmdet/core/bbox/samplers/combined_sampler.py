from ..builder import BBOX_SAMPLERS, build_sampler
from .base_sampler import BaseSampler


@BBOX_SAMPLERS.register_module()
class CombinedSampler(BaseSampler):
    """Positives from one sampler, negatives from another.

    Args:
        pos_sampler (dict): config of the sampler drawing the positives.
        neg_sampler (dict): config of the sampler drawing the negatives.
        **kwargs: ``num``, ``pos_fraction``, ``neg_pos_ub``,
            ``add_gt_as_proposals`` (and ``context``): this sampler's
            settings and the defaults of both inner samplers.
    """

    def __init__(self, pos_sampler, neg_sampler, **kwargs):
        super().__init__(**kwargs)
        self.pos_sampler = build_sampler(pos_sampler, **kwargs)
        self.neg_sampler = build_sampler(neg_sampler, **kwargs)

    def _sample_pos(self, **kwargs):
        raise NotImplementedError('the positive sampler draws positives')

    def _sample_neg(self, **kwargs):
        raise NotImplementedError('the negative sampler draws negatives')
