"""Points (cell centres) of a feature pyramid, for anchor-free heads."""

import torch
from torch.nn.modules.utils import _pair

from .builder import PRIOR_GENERATORS
from .level_grid import LevelGridMixin


@PRIOR_GENERATORS.register_module()
class MlvlPointGenerator(LevelGridMixin):
    """One point per cell of every level.

    The point of cell (i, j) of a level with stride ``s`` is ``((j +
    offset) * s_w, (i + offset) * s_h)`` in input-image pixels; points are
    ordered row-major, the order of a flattened (H, W) map.

    Args:
        strides (list[int] | list[tuple[int, int]]): stride of every level,
            an int or ``(stride_w, stride_h)``.
        offset (float): position of the point within its cell, in [0, 1].
    """

    prior_kind = 'point'

    def __init__(self, strides, offset=0.5):
        self.strides = [_pair(stride) for stride in strides]
        self.offset = offset

    @property
    def num_levels(self):
        """int: number of feature levels."""
        return len(self.strides)

    @property
    def num_base_priors(self):
        """list[int]: points per cell of every level (always 1)."""
        return [1 for _ in range(len(self.strides))]

    def grid_priors(
        self,
        featmap_sizes,
        dtype=torch.float32,
        device='cuda',
        with_stride=False,
    ):
        """The points of every level.

        Returns:
            list[Tensor]: per level (H * W, 2) points ``x, y``, or (H * W,
            4) ``x, y, stride_w, stride_h`` with ``with_stride``.
        """
        self._check_levels(featmap_sizes)
        return [
            self.single_level_grid_priors(
                featmap_sizes[i],
                level_idx=i,
                dtype=dtype,
                device=device,
                with_stride=with_stride,
            )
            for i in range(self.num_levels)
        ]

    def single_level_grid_priors(
        self,
        featmap_size,
        level_idx,
        dtype=torch.float32,
        device='cuda',
        with_stride=False,
    ):
        """The (H * W, 2) (or (H * W, 4) ``with_stride``) points of one
        level of size ``(H, W)``."""
        feat_h, feat_w = featmap_size
        stride_w, stride_h = self.strides[level_idx]
        shift_x = (
            torch.arange(0, feat_w, device=device) + self.offset
        ) * stride_w
        shift_y = (
            torch.arange(0, feat_h, device=device) + self.offset
        ) * stride_h
        shift_xx, shift_yy = self._meshgrid(
            shift_x.to(dtype), shift_y.to(dtype)
        )
        if not with_stride:
            return torch.stack([shift_xx, shift_yy], dim=-1)
        strides_w = shift_xx.new_full((shift_xx.size(0),), stride_w)
        strides_h = shift_xx.new_full((shift_yy.size(0),), stride_h)
        return torch.stack([shift_xx, shift_yy, strides_w, strides_h], dim=-1)

    def valid_flags(self, featmap_sizes, pad_shape, device='cuda'):
        """Per level (H * W,) bool: the points whose cell covers some of
        the padded image ``pad_shape`` (h, w[, c])."""
        return [
            self.single_level_valid_flags(
                featmap_size, valid_size, device=device
            )
            for featmap_size, valid_size in self._valid_cells(
                featmap_sizes, pad_shape
            )
        ]

    def single_level_valid_flags(
        self, featmap_size, valid_size, device='cuda'
    ):
        """(H * W,) bool: True in the top-left ``valid_size`` cells."""
        return self._cell_valid_flags(featmap_size, valid_size, device)

    def sparse_priors(
        self,
        prior_idxs,
        featmap_size,
        level_idx,
        dtype=torch.float32,
        device='cuda',
    ):
        """The (K, 2) points at flat indices ``prior_idxs`` of one level."""
        height, width = featmap_size
        stride_w, stride_h = self.strides[level_idx]
        x = (prior_idxs % width + self.offset) * stride_w
        y = ((prior_idxs // width) % height + self.offset) * stride_h
        return torch.stack([x, y], dim=1).to(dtype).to(device)

    def __repr__(self):
        return (
            f'{type(self).__name__}(strides={self.strides}, '
            f'offset={self.offset})'
        )


@PRIOR_GENERATORS.register_module()
class PointGenerator(LevelGridMixin):
    """Legacy single-level point generator (RepPoints of MMDetection
    1.x); :class:`MlvlPointGenerator` replaces it."""

    def grid_points(self, featmap_size, stride=16, device='cuda'):
        """(H * W, 3) points ``x, y, stride`` at the top-left corner of
        every cell of an (H, W) map, row by row."""
        feat_h, feat_w = featmap_size
        shift_x = torch.arange(0.0, feat_w, device=device) * stride
        shift_y = torch.arange(0.0, feat_h, device=device) * stride
        xx, yy = self._meshgrid(shift_x, shift_y)
        strides = xx.new_full((xx.shape[0],), stride)
        return torch.stack([xx, yy, strides], dim=-1)

    def valid_flags(self, featmap_size, valid_size, device='cuda'):
        """(H * W,) bool: cells inside the top-left (valid_h, valid_w)."""
        return self._cell_valid_flags(featmap_size, valid_size, device)
