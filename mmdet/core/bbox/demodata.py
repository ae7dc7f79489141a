"""Random boxes for tests and demos (MMDetection 2.x's
``mmdet.core.bbox.demodata``)."""

import numpy as np
import torch

from mmdet.utils.util_random import ensure_rng

__all__ = ['ensure_rng', 'random_boxes']


def random_boxes(num=1, scale=1, rng=None):
    """(num, 4) float32 ``x1, y1, x2, y2`` boxes with corners drawn
    uniformly in ``[0, scale)`` (each box's corners sorted so that
    x1 <= x2 and y1 <= y2).

    Args:
        num (int): number of boxes.
        scale (float): size of the square the corners fall in.
        rng (None | int | numpy.random.RandomState): see ``ensure_rng``.

    Returns:
        Tensor: (num, 4) float32.
    """
    corners = ensure_rng(rng).rand(num, 2, 2).astype(np.float32)
    corners.sort(axis=1)  # [[x_lo, y_lo], [x_hi, y_hi]] per box
    return torch.from_numpy(corners.reshape(num, 4) * np.float32(scale))
