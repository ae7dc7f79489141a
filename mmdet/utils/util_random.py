"""Random-number helpers (MMDetection 2.x's ``mmdet.utils.util_random``)."""

import numpy as np


def ensure_rng(rng=None):
    """A ``numpy.random.RandomState`` from ``rng``: None gives numpy's
    global generator, an int a new generator seeded with it, and a
    generator is returned as is."""
    if rng is None:
        return np.random.mtrand._rand
    if isinstance(rng, (int, np.integer)):
        return np.random.RandomState(int(rng))
    return rng
