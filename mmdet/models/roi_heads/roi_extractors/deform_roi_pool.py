"""Deformable RoI pooling (mmcv's ``DeformRoIPoolPack`` and
``ModulatedDeformRoIPoolPack``: names, arguments, state-dict keys) on
``F.grid_sample``, differentiable with respect to the offsets."""

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.utils import _pair

from mmdet.utils.arg_errors import check_arg
from .roi_align import ROI_LAYERS


def _bilinear(feat, y, x):
    """RoIAlign's bilinear sampling of ``feat`` (C, H, W) at float pixel
    positions ``y``, ``x`` (any equal shapes) -> (C, *y.shape): positions
    are clamped into the map; those beyond one pixel outside give 0."""
    _, h, w = feat.shape
    valid = (y >= -1) & (y <= h) & (x >= -1) & (x <= w)
    yc, xc = y.clamp(0, h - 1), x.clamp(0, w - 1)
    grid = torch.stack(
        [xc / max(w - 1, 1) * 2 - 1, yc / max(h - 1, 1) * 2 - 1], dim=-1
    )
    out = F.grid_sample(
        feat[None],
        grid.reshape(1, -1, 1, 2).to(feat.dtype),
        mode='bilinear',
        padding_mode='border',
        align_corners=True,
    )
    return (out[0, :, :, 0] * valid.reshape(1, -1)).reshape(-1, *y.shape)


def _arange_like(like):
    """``n -> arange(n)`` in the dtype and device of ``like``."""
    return lambda n: torch.arange(n, dtype=like.dtype, device=like.device)


def _pool_group(feat, start, bins, shift, grid, output_size):
    """Average of ``grid`` = (gh, gw) samples per bin, for n RoIs of one
    image: start, bins (n, 2) as (x, y); shift (n, 2, PH, PW) ->
    (n, C, PH, PW)."""
    (ph, pw), (gh, gw) = output_size, grid
    ar = _arange_like(feat)
    y = (
        start[:, 1, None, None, None, None]
        + (ar(ph)[:, None, None, None] + (ar(gh)[:, None] + 0.5) / gh)
        * bins[:, 1, None, None, None, None]
        + shift[:, 1, :, :, None, None]
    )
    x = (
        start[:, 0, None, None, None, None]
        + (ar(pw)[:, None, None] + (ar(gw) + 0.5) / gw)
        * bins[:, 0, None, None, None, None]
        + shift[:, 0, :, :, None, None]
    )
    y, x = torch.broadcast_tensors(y, x)  # (n, PH, PW, gh, gw)
    samples = _bilinear(feat, y, x)
    return samples.mean(dim=(-2, -1)).transpose(0, 1)


def deform_roi_pool(
    input,
    rois,
    offset=None,
    output_size=7,
    spatial_scale=1.0,
    sampling_ratio=0,
    gamma=0.1,
):
    """Aligned RoI pooling whose bins move by ``offset``.

    Args:
        input (Tensor): (B, C, H, W) features.
        rois (Tensor): (K, 5) ``[batch_idx, x1, y1, x2, y2]``, input pixels.
        offset (Tensor, optional): (K, 2, PH, PW) per bin ``(dx, dy)`` as
            fractions of the RoI's width and height, times ``gamma``.
        output_size (int | tuple[int]): (PH, PW).
        spatial_scale (float): feature pixels per input pixel.
        sampling_ratio (int): samples per bin side; 0: ``ceil`` of the bin
            size (per RoI, as RoIAlign).
        gamma (float): scale of the offsets.

    Returns:
        Tensor: (K, C, PH, PW); without offsets equal to aligned RoIAlign.
    """
    ph, pw = _pair(output_size)
    boxes = rois[:, 1:].to(input.dtype) * spatial_scale - 0.5
    start, size = boxes[:, :2], boxes[:, 2:] - boxes[:, :2]  # (x, y)
    bins = size / size.new_tensor([pw, ph])
    shift = size.new_zeros(len(rois), 2, ph, pw)
    if offset is not None:
        shift = gamma * size[:, :, None, None] * offset.to(input.dtype)
    if sampling_ratio > 0:
        grids = torch.full_like(bins, sampling_ratio, dtype=torch.long)
    else:
        grids = torch.ceil(bins.detach()).long()
    key = torch.cat([rois[:, :1].long(), grids.flip(1)], dim=1)
    out = input.new_zeros(len(rois), input.size(1), ph, pw)
    for b, gh, gw in torch.unique(key, dim=0).tolist():
        if gh <= 0 or gw <= 0:
            continue  # an empty RoI pools to zeros
        sel = (key == key.new_tensor([b, gh, gw])).all(dim=1)
        out[sel] = _pool_group(
            input[b], start[sel], bins[sel], shift[sel], (gh, gw), (ph, pw)
        )
    return out


class DeformRoIPool(nn.Module):
    """``deform_roi_pool`` as a layer: ``forward(input, rois, offset=None)``
    -> (K, C, *output_size)."""

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


def _fc_stack(in_features, hidden, out_features, depth):
    """``depth`` Linear layers with ReLUs between, the last one zeroed (so
    a new layer pools like RoIAlign)."""
    sizes = [in_features] + [hidden] * (depth - 1) + [out_features]
    layers = []
    for i in range(depth):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < depth - 1:
            layers.append(nn.ReLU(inplace=True))
    nn.init.zeros_(layers[-1].weight)
    nn.init.zeros_(layers[-1].bias)
    return nn.Sequential(*layers)


class DeformRoIPoolPack(DeformRoIPool):
    """Deformable RoI pooling whose offsets come from the plainly pooled
    features through ``offset_fc`` (3 fully connected layers).
    ``forward(input, rois)`` -> (K, output_channels, *output_size)."""

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
            bins * output_channels, deform_fc_channels, bins * 2, 3
        )

    def _plain_and_offset(self, input, rois):
        check_arg(
            input.size(1) == self.output_channels,
            type(self).__name__,
            f'input has {input.size(1)} channels, output_channels is '
            f'{self.output_channels}',
        )
        plain = super().forward(input, rois)
        flat = plain.flatten(1)
        offset = self.offset_fc(flat).view(-1, 2, *self.output_size)
        return flat, offset

    def forward(self, input, rois):
        _, offset = self._plain_and_offset(input, rois)
        return super().forward(input, rois, offset)


class ModulatedDeformRoIPoolPack(DeformRoIPoolPack):
    """``DeformRoIPoolPack`` whose bins are also scaled by a mask in (0, 1)
    from ``mask_fc`` (2 fully connected layers and a sigmoid; 0.5 at
    first)."""

    def __init__(
        self,
        output_size,
        output_channels,
        deform_fc_channels=1024,
        spatial_scale=1.0,
        sampling_ratio=0,
        gamma=0.1,
    ):
        super().__init__(
            output_size,
            output_channels,
            deform_fc_channels,
            spatial_scale,
            sampling_ratio,
            gamma,
        )
        bins = self.output_size[0] * self.output_size[1]
        fc = _fc_stack(bins * output_channels, deform_fc_channels, bins, 2)
        self.mask_fc = nn.Sequential(*fc, nn.Sigmoid())

    def forward(self, input, rois):
        flat, offset = self._plain_and_offset(input, rois)
        mask = self.mask_fc(flat).view(-1, 1, *self.output_size)
        return DeformRoIPool.forward(self, input, rois, offset) * mask


ROI_LAYERS.update(
    DeformRoIPool=DeformRoIPool,
    DeformRoIPoolPack=DeformRoIPoolPack,
    ModulatedDeformRoIPoolPack=ModulatedDeformRoIPoolPack,
)
