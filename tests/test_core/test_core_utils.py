"""mmdet.core.utils: the tensor helpers of the heads."""

import torch

from mmdet.core import unmap


def test_unmap():
    inds = torch.tensor([True, False, True, False])
    out = unmap(torch.tensor([7, 8]), 4, inds, fill=-1)
    assert out.tolist() == [7, -1, 8, -1]
    rows = unmap(torch.ones(2, 3), 4, inds.long())
    assert rows.tolist() == [[1, 1, 1], [0, 0, 0], [1, 1, 1], [0, 0, 0]]
