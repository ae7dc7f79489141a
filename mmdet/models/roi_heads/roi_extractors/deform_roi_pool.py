"""Deformable RoI pooling (Dai et al., 2017; mmcv.ops's ``DeformRoIPool``,
``DeformRoIPoolPack``, ``ModulatedDeformRoIPoolPack``) on torch.

Each output bin of an aligned RoIAlign is shifted by ``gamma * (roi_w,
roi_h) * offset`` before its samples are averaged. Without an offset this is
torchvision's ``roi_align(aligned=True)``; with one the samples are read
with ``F.grid_sample``, so the offsets get gradients.
"""

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.utils import _pair
from torchvision.ops import roi_align


def _bilinear(feat, y, x):
    """(C, *S) values of ``feat`` (C, H, W) at pixel coordinates ``y``,
    ``x`` (*S): zero beyond one pixel outside the map, the border pixel's
    value within that pixel (mmcv's and torchvision's RoIAlign rule)."""
    height, width = feat.shape[1:]
    inside = (y >= -1) & (y <= height) & (x >= -1) & (x <= width)
    y = y.clamp(0, height - 1)
    x = x.clamp(0, width - 1)
    grid = torch.stack(
        [x / max(width - 1, 1) * 2 - 1, y / max(height - 1, 1) * 2 - 1], -1
    )
    values = F.grid_sample(
        feat[None], grid.view(1, -1, 1, 2).to(feat), align_corners=True
    )
    return values.view(feat.size(0), *y.shape) * inside.to(feat)


def _pool_bins(feat, boxes, offset, grid, gamma):
    """(n, C, oh, ow) deformed bins of ``boxes`` (n, 4) in feature pixels,
    ``offset`` (n, 2, oh, ow), ``grid`` = (gh, gw) samples per bin."""
    out_h, out_w = offset.shape[2:]
    size = boxes[:, 2:] - boxes[:, :2]  # (n, 2): w, h
    bins = size / size.new_tensor([out_w, out_h])
    steps = [
        (torch.arange(n, dtype=boxes.dtype, device=boxes.device) + 0.5) / n
        for n in (grid[1], grid[0])
    ]
    x = (
        boxes[:, 0, None, None]
        + gamma * size[:, 0, None, None] * offset[:, 0]
        + torch.arange(out_w, device=boxes.device) * bins[:, 0, None, None]
    )  # (n, oh, ow): each bin's left edge
    y = (
        boxes[:, 1, None, None]
        + gamma * size[:, 1, None, None] * offset[:, 1]
        + torch.arange(out_h, device=boxes.device)[:, None]
        * bins[:, 1, None, None]
    )
    x = x[..., None, None] + steps[0] * bins[:, 0, None, None, None, None]
    y = (
        y[..., None, None]
        + steps[1][:, None] * bins[:, 1, None, None, None, None]
    )
    values = _bilinear(feat, y.expand_as(x + y), x.expand_as(x + y))
    return values.mean(dim=(-2, -1)).transpose(0, 1)


def deform_roi_pool(
    input,
    rois,
    offset,
    output_size,
    spatial_scale=1.0,
    sampling_ratio=0,
    gamma=0.1,
):
    """mmcv's ``deform_roi_pool``: (K, C, oh, ow) features of ``rois``
    (K, 5) from ``input`` (B, C, H, W), each bin moved by ``offset`` (K, 2,
    oh, ow; x then y, in RoI sizes times ``gamma``) or not (None)."""
    output_size = _pair(output_size)
    rois = rois.to(input.dtype)
    if offset is None:
        return roi_align(
            input, rois, output_size, spatial_scale, sampling_ratio, True
        )
    boxes = rois[:, 1:] * spatial_scale - 0.5
    grids = _sample_grids(boxes, output_size, sampling_ratio)
    out = input.new_zeros(rois.size(0), input.size(1), *output_size)
    groups = torch.cat([rois[:, :1].long(), grids], dim=1)
    for key in groups.unique(dim=0).tolist():
        batch, grid = key[0], key[1:]
        if min(grid) <= 0:  # an empty RoI: no sample, zero
            continue
        idx = (groups == groups.new_tensor(key)).all(1).nonzero()[:, 0]
        out[idx] = _pool_bins(
            input[batch], boxes[idx], offset[idx], grid, gamma
        )
    return out


def _sample_grids(boxes, output_size, sampling_ratio):
    """(K, 2) samples per bin side (rows, columns): ``sampling_ratio``,
    or ``ceil(roi side / bins)`` when it is 0."""
    if sampling_ratio > 0:
        return torch.full_like(boxes[:, :2], sampling_ratio).long()
    sides = torch.stack(
        [boxes[:, 3] - boxes[:, 1], boxes[:, 2] - boxes[:, 0]], dim=1
    )
    bins = sides.new_tensor(output_size)
    return torch.ceil(sides / bins).long()


class DeformRoIPool(nn.Module):
    """Deformable RoI pooling with offsets given to ``forward``.

    Args:
        output_size (int | tuple[int]): (oh, ow).
        spatial_scale (float): feature pixels per input pixel.
        sampling_ratio (int): samples per bin side; 0: adaptive.
        gamma (float): offsets are in units of ``gamma`` times the RoI
            size.
    """

    def __init__(
        self, output_size, spatial_scale=1.0, sampling_ratio=0, gamma=0.1
    ):
        super().__init__()
        self.output_size = _pair(output_size)
        self.spatial_scale = float(spatial_scale)
        self.sampling_ratio = int(sampling_ratio)
        self.gamma = float(gamma)

    def forward(self, input, rois, offset=None):
        return deform_roi_pool(
            input,
            rois,
            offset,
            self.output_size,
            self.spatial_scale,
            self.sampling_ratio,
            self.gamma,
        )


def _fc_stack(sizes, last_activation=None):
    """Linear layers of ``sizes`` with ReLUs between, the last one zero
    (the pooling starts undeformed); mmcv's ``offset_fc`` / ``mask_fc``
    layout."""
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        if i:
            layers.append(nn.ReLU(inplace=True))
        layers.append(nn.Linear(n_in, n_out))
    nn.init.zeros_(layers[-1].weight)
    nn.init.zeros_(layers[-1].bias)
    if last_activation is not None:
        layers.append(last_activation)
    return nn.Sequential(*layers)


class DeformRoIPoolPack(DeformRoIPool):
    """DeformRoIPool predicting its offsets: an undeformed pass, then
    ``offset_fc`` (three linear layers) on its flattened features.

    Args:
        output_channels (int): channels of the pooled features (= C).
        deform_fc_channels (int): width of the hidden layers.
        Others: as :class:`DeformRoIPool`.
    """

    def __init__(
        self,
        output_size,
        output_channels,
        deform_fc_channels=1024,
        spatial_scale=1.0,
        sampling_ratio=0,
        gamma=0.1,
    ):
        super().__init__(output_size, spatial_scale, sampling_ratio, gamma)
        self.output_channels = output_channels
        self.deform_fc_channels = deform_fc_channels
        bins = self.output_size[0] * self.output_size[1]
        self.offset_fc = _fc_stack(
            [
                bins * output_channels,
                deform_fc_channels,
                deform_fc_channels,
                bins * 2,
            ]
        )

    def _offset(self, plain):
        """(K, 2, oh, ow) offsets from the undeformed features."""
        flat = plain.flatten(1)
        return self.offset_fc(flat).view(-1, 2, *self.output_size)

    def forward(self, input, rois):
        if input.size(1) != self.output_channels:
            raise ValueError(
                f'{type(self).__name__}: input has {input.size(1)} '
                f'channels, output_channels is {self.output_channels}'
            )
        plain = super().forward(input, rois)
        return super().forward(input, rois, self._offset(plain))


class ModulatedDeformRoIPoolPack(DeformRoIPoolPack):
    """DeformRoIPoolPack whose bins are also weighted by a predicted mask
    in (0, 1): ``mask_fc`` (two linear layers and a sigmoid)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        bins = self.output_size[0] * self.output_size[1]
        self.mask_fc = _fc_stack(
            [bins * self.output_channels, self.deform_fc_channels, bins],
            nn.Sigmoid(),
        )

    def forward(self, input, rois):
        plain = DeformRoIPool.forward(self, input, rois)
        mask = self.mask_fc(plain.flatten(1)).view(-1, 1, *self.output_size)
        deformed = DeformRoIPool.forward(
            self, input, rois, self._offset(plain)
        )
        return deformed * mask
