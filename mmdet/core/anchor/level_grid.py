"""What the anchor and the point generators share: the grid of cells of
each feature level and which of its cells cover the image."""

import numpy as np
import torch

from mmdet.utils.arg_errors import InvalidArgumentError


class LevelGridMixin:
    """Grid helpers of a prior generator with ``strides`` (one ``(w, h)``
    per level) and ``num_levels``; ``prior_kind`` names its priors in
    error messages."""

    prior_kind = 'prior'

    @staticmethod
    def _meshgrid(x, y, row_major=True):
        """Every (x, y) pair of two 1D tensors, flattened; row-major means
        x varies fastest."""
        yy, xx = torch.meshgrid(y, x, indexing='ij')
        if row_major:
            return xx.reshape(-1), yy.reshape(-1)
        return yy.reshape(-1), xx.reshape(-1)

    def _check_levels(self, featmap_sizes):
        if len(featmap_sizes) != self.num_levels:
            raise InvalidArgumentError(
                f'{len(featmap_sizes)} feature map sizes given '
                f'for {self.num_levels} {self.prior_kind} levels'
            )

    def _valid_cells(self, featmap_sizes, pad_shape):
        """Per level ``((H, W), (valid_h, valid_w))``: the map size and the
        top-left cells that cover some of the padded image ``pad_shape``
        (h, w[, c])."""
        self._check_levels(featmap_sizes)
        pad_h, pad_w = pad_shape[:2]
        cells = []
        for (feat_h, feat_w), (stride_w, stride_h) in zip(
            featmap_sizes, self.strides
        ):
            valid_h = min(int(np.ceil(pad_h / stride_h)), feat_h)
            valid_w = min(int(np.ceil(pad_w / stride_w)), feat_w)
            cells.append(((feat_h, feat_w), (valid_h, valid_w)))
        return cells

    def _cell_valid_flags(self, featmap_size, valid_size, device):
        """(H * W,) bool, row-major: True in the top-left ``valid_size``
        (h, w) cells of a map of size ``featmap_size``."""
        feat_h, feat_w = featmap_size
        valid_h, valid_w = valid_size
        if not (valid_h <= feat_h and valid_w <= feat_w):
            raise InvalidArgumentError(
                f'valid size {valid_size} exceeds the feature '
                f'map size {featmap_size}'
            )
        valid_x = torch.arange(feat_w, device=device) < valid_w
        valid_y = torch.arange(feat_h, device=device) < valid_h
        valid_xx, valid_yy = self._meshgrid(valid_x, valid_y)
        return valid_xx & valid_yy
