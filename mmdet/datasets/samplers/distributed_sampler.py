"""torch's DistributedSampler with a seed that defaults to 0."""

from torch.utils.data import DistributedSampler as _DistributedSampler


class DistributedSampler(_DistributedSampler):
    """Each rank gets ``len(dataset) / num_replicas`` indices (padded by
    repeating): with ``shuffle=False`` rank r gets r, r + num_replicas, ...,
    which is the order the distributed test loop reassembles.

    Args: as torch's; ``seed=None`` means 0 (pass the training seed so
    every rank shuffles alike).
    """

    def __init__(
        self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0
    ):
        super().__init__(
            dataset,
            num_replicas=num_replicas,
            rank=rank,
            shuffle=shuffle,
            seed=seed if seed is not None else 0,
        )
