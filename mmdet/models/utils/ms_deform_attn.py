"""Multi-scale deformable attention (Deformable DETR) on ``F.grid_sample``.

mmcv-full registers a compiled ``MultiScaleDeformableAttention`` in mmcv's
``ATTENTION`` registry; without it this module registers its own under the
same name, with the same arguments and parameter names
(``sampling_offsets``, ``attention_weights``, ``value_proj``,
``output_proj``), computed by the pure-PyTorch formula mmcv itself uses on
the CPU. ``im2col_step`` (a CUDA batching detail) is accepted and ignored.
"""

import math
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import constant_init, xavier_init
from mmcv.cnn.bricks.registry import ATTENTION
from mmcv.runner import BaseModule

from mmdet.utils.arg_errors import InvalidArgumentError, check_arg


def multi_scale_deformable_attn_pytorch(
    value, value_spatial_shapes, sampling_locations, attention_weights
):
    """Weighted sum of bilinear samples of each level's value map.

    Args:
        value (Tensor): ``(bs, num_keys, num_heads, head_dims)``, the levels'
            ``h*w`` tokens one after the other (row-major).
        value_spatial_shapes (Tensor | list): ``(num_levels, 2)`` as (h, w).
        sampling_locations (Tensor): ``(bs, num_queries, num_heads,
            num_levels, num_points, 2)``, (x, y) in [0, 1] of each level's map
            (0 and 1 are its outer pixel edges); outside reads zeros.
        attention_weights (Tensor): ``(bs, num_queries, num_heads,
            num_levels, num_points)``.

    Returns:
        Tensor: ``(bs, num_queries, num_heads * head_dims)``.
    """
    bs, _, num_heads, head_dims = value.shape
    _, num_queries, _, num_levels, num_points, _ = sampling_locations.shape
    # sizes as they come (no int()): when the shapes are a tensor of
    # traced sizes (ONNX export), the graph keeps them free
    sizes = [h * w for h, w in value_spatial_shapes]
    grids = 2 * sampling_locations - 1  # grid_sample's [-1, 1]
    samples = []
    levels = zip(value.split(sizes, dim=1), value_spatial_shapes)
    for level, (level_value, (h, w)) in enumerate(levels):
        # (bs*heads, head_dims, h, w)
        level_value = level_value.permute(0, 2, 3, 1).reshape(
            bs * num_heads, head_dims, h, w
        )
        # (bs*heads, queries, points, 2)
        grid = grids[:, :, :, level].transpose(1, 2).flatten(0, 1)
        samples.append(
            F.grid_sample(
                level_value,
                grid,
                mode='bilinear',
                padding_mode='zeros',
                align_corners=False,
            )
        )
    # (bs*heads, head_dims, queries, levels*points)
    stacked = torch.stack(samples, dim=-2).flatten(-2)
    weights = attention_weights.transpose(1, 2).reshape(
        bs * num_heads, 1, num_queries, num_levels * num_points
    )
    out = (stacked * weights).sum(-1).view(bs, num_heads * head_dims, -1)
    return out.transpose(1, 2).contiguous()


def _sampling_locations(reference_points, offsets, spatial_shapes, points):
    """Offsets in pixels of each level (reference points (x, y)) or in
    halves of the reference box over ``points`` (boxes (x, y, w, h))."""
    ref = reference_points[:, :, None, :, None]
    if reference_points.shape[-1] == 2:
        size_xy = torch.stack([spatial_shapes[:, 1], spatial_shapes[:, 0]], -1)
        return ref + offsets / size_xy[None, None, None, :, None]
    if reference_points.shape[-1] == 4:
        return ref[..., :2] + offsets / points * ref[..., 2:] * 0.5
    raise InvalidArgumentError(
        'MultiScaleDeformableAttention: reference_points must end with 2 '
        f'(x, y) or 4 (x, y, w, h), got {tuple(reference_points.shape)}'
    )


class MultiScaleDeformableAttention(BaseModule):
    """Deformable DETR's attention: each query samples ``num_points``
    points per head and level around its reference point and sums them with
    softmax weights; both the offsets and the weights are linear in the
    query.

    Args: as mmcv's (``embed_dims``, ``num_heads``, ``num_levels``,
    ``num_points``, ``im2col_step`` (ignored), ``dropout`` (on the output,
    before the residual), ``batch_first``, ``norm_cfg`` (unused, as in
    mmcv), ``init_cfg``, ``value_proj_ratio``).
    """

    def __init__(
        self,
        embed_dims=256,
        num_heads=8,
        num_levels=4,
        num_points=4,
        im2col_step=64,
        dropout=0.1,
        batch_first=False,
        norm_cfg=None,
        init_cfg=None,
        value_proj_ratio=1.0,
    ):
        super().__init__(init_cfg)
        check_arg(
            embed_dims % num_heads == 0,
            'MultiScaleDeformableAttention',
            f'embed_dims ({embed_dims}) must be divisible by num_heads '
            f'({num_heads})',
        )
        head_dims = embed_dims // num_heads
        if head_dims & (head_dims - 1):
            warnings.warn(
                'MultiScaleDeformableAttention: a power of 2 per head '
                f'(got {head_dims}) is what the CUDA kernel runs best with'
            )
        self.norm_cfg = norm_cfg
        self.dropout = nn.Dropout(dropout)
        self.batch_first = batch_first
        self.im2col_step = im2col_step
        self.embed_dims = embed_dims
        self.num_levels = num_levels
        self.num_heads = num_heads
        self.num_points = num_points
        samples = num_heads * num_levels * num_points
        self.sampling_offsets = nn.Linear(embed_dims, samples * 2)
        self.attention_weights = nn.Linear(embed_dims, samples)
        value_dims = int(embed_dims * value_proj_ratio)
        self.value_proj = nn.Linear(embed_dims, value_dims)
        self.output_proj = nn.Linear(value_dims, embed_dims)
        self.init_weights()

    def init_weights(self):
        """Zero offset weights; biases put head h's point p at distance
        ``p + 1`` in direction ``2 pi h / num_heads`` (on the square's
        border); uniform attention; Xavier projections."""
        constant_init(self.sampling_offsets, 0.0)
        thetas = torch.arange(self.num_heads) * (
            2.0 * math.pi / self.num_heads
        )
        grid = torch.stack([thetas.cos(), thetas.sin()], -1)
        grid = grid / grid.abs().max(-1, keepdim=True)[0]
        steps = torch.arange(1, self.num_points + 1, dtype=grid.dtype)
        grid = grid[:, None, None, :] * steps[None, None, :, None]
        grid = grid.expand(-1, self.num_levels, -1, -1)
        with torch.no_grad():
            self.sampling_offsets.bias.copy_(grid.reshape(-1))
        constant_init(self.attention_weights, val=0.0, bias=0.0)
        xavier_init(self.value_proj, distribution='uniform', bias=0.0)
        xavier_init(self.output_proj, distribution='uniform', bias=0.0)
        self._is_init = True

    def forward(
        self,
        query,
        key=None,
        value=None,
        identity=None,
        query_pos=None,
        key_padding_mask=None,
        reference_points=None,
        spatial_shapes=None,
        level_start_index=None,
        **kwargs,
    ):
        """``query``: ``(num_query, bs, C)`` (``(bs, num_query, C)`` when
        ``batch_first``), ``value`` likewise with the levels' tokens (None:
        ``query``); ``key_padding_mask``: ``(bs, num_value)``, True where
        padded; ``reference_points``: ``(bs, num_query, num_levels, 2 or
        4)`` normalised to [0, 1]; ``spatial_shapes``: ``(num_levels, 2)``
        long (h, w). Returns the query's shape: ``identity`` (None:
        ``query``) plus the attention output."""
        if 'residual' in kwargs and identity is None:
            identity = kwargs.pop('residual')  # mmcv's old name
        value = query if value is None else value
        identity = query if identity is None else identity
        if query_pos is not None:
            query = query + query_pos
        if not self.batch_first:
            query, value = query.transpose(0, 1), value.transpose(0, 1)
        bs, num_query, _ = query.shape
        num_value = value.shape[1]
        check_arg(
            int((spatial_shapes[:, 0] * spatial_shapes[:, 1]).sum())
            == num_value,
            'MultiScaleDeformableAttention',
            f'spatial_shapes cover {num_value} value tokens exactly',
        )
        value = self.value_proj(value)
        if key_padding_mask is not None:
            value = value.masked_fill(key_padding_mask[..., None], 0.0)
        value = value.view(bs, num_value, self.num_heads, -1)
        shape = (bs, num_query, self.num_heads, self.num_levels)
        offsets = self.sampling_offsets(query)
        offsets = offsets.view(*shape, self.num_points, 2)
        weights = self.attention_weights(query).view(*shape[:3], -1)
        weights = weights.softmax(-1).view(*shape, self.num_points)
        locations = _sampling_locations(
            reference_points, offsets, spatial_shapes, self.num_points
        )
        out = multi_scale_deformable_attn_pytorch(
            value, spatial_shapes, locations, weights
        )
        out = self.output_proj(out)
        if not self.batch_first:
            out = out.transpose(0, 1)
        return self.dropout(out) + identity


if 'MultiScaleDeformableAttention' not in ATTENTION.module_dict:
    ATTENTION.register_module(module=MultiScaleDeformableAttention)
