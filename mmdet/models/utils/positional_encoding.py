"""DETR's positional encodings, registered in mmcv's
``POSITIONAL_ENCODING`` (MMDetection 2.x names and arguments)."""

import math

import torch
import torch.nn as nn
from mmcv.cnn.bricks.registry import POSITIONAL_ENCODING
from mmcv.runner import BaseModule

from mmdet.utils.arg_errors import InvalidArgumentTypeError


@POSITIONAL_ENCODING.register_module()
class SinePositionalEncoding(BaseModule):
    """Sine/cosine encoding of each pixel's row and column.

    For a ``(bs, h, w)`` mask (nonzero = padding) the position along y (x)
    is the count of unpadded pixels up to and including this one in its
    column (row); with ``normalize`` it becomes ``(pos + offset) /
    (last pos + eps) * scale``. Feature ``2i`` and ``2i + 1`` of each axis
    are ``sin`` and ``cos`` of ``pos / temperature**(2i / num_feats)``.
    ``forward`` returns ``(bs, 2 * num_feats, h, w)``: y's features, then
    x's.
    """

    def __init__(
        self,
        num_feats,
        temperature=10000,
        normalize=False,
        scale=2 * math.pi,
        eps=1e-6,
        offset=0.0,
        init_cfg=None,
    ):
        super().__init__(init_cfg)
        if normalize and not isinstance(scale, (float, int)):
            raise InvalidArgumentTypeError(
                'SinePositionalEncoding: with normalize=True, scale must be '
                f'a float or int, got {type(scale).__name__}'
            )
        self.num_feats = num_feats
        self.temperature = temperature
        self.normalize = normalize
        self.scale = scale
        self.eps = eps
        self.offset = offset

    def _encode(self, pos, dim_t):
        """``(bs, h, w)`` positions -> ``(bs, h, w, num_feats)``."""
        pos = pos[..., None] / dim_t
        pairs = torch.stack((pos[..., 0::2].sin(), pos[..., 1::2].cos()), 4)
        return pairs.view(*pos.shape[:3], -1)

    def forward(self, mask):
        # integer arithmetic keeps the mask exportable to ONNX
        not_mask = 1 - mask.to(torch.int)
        y = not_mask.cumsum(1, dtype=torch.float32)
        x = not_mask.cumsum(2, dtype=torch.float32)
        if self.normalize:
            y = (y + self.offset) / (y[:, -1:, :] + self.eps) * self.scale
            x = (x + self.offset) / (x[:, :, -1:] + self.eps) * self.scale
        dim_t = torch.arange(
            self.num_feats, dtype=torch.float32, device=mask.device
        )
        dim_t = self.temperature ** (2 * (dim_t // 2) / self.num_feats)
        pos = torch.cat((self._encode(y, dim_t), self._encode(x, dim_t)), 3)
        return pos.permute(0, 3, 1, 2)

    def __repr__(self):
        return (
            f'{type(self).__name__}(num_feats={self.num_feats}, '
            f'temperature={self.temperature}, normalize={self.normalize}, '
            f'scale={self.scale}, eps={self.eps})'
        )


@POSITIONAL_ENCODING.register_module()
class LearnedPositionalEncoding(BaseModule):
    """Learned embeddings of the column (``col_embed``) and the row
    (``row_embed``) index; ``forward(mask)`` returns ``(bs, 2 * num_feats,
    h, w)``: column features, then row features."""

    def __init__(
        self,
        num_feats,
        row_num_embed=50,
        col_num_embed=50,
        init_cfg=dict(type='Uniform', layer='Embedding'),
    ):
        super().__init__(init_cfg)
        self.row_embed = nn.Embedding(row_num_embed, num_feats)
        self.col_embed = nn.Embedding(col_num_embed, num_feats)
        self.num_feats = num_feats
        self.row_num_embed = row_num_embed
        self.col_num_embed = col_num_embed

    def forward(self, mask):
        bs, h, w = mask.shape
        cols = self.col_embed(torch.arange(w, device=mask.device))
        rows = self.row_embed(torch.arange(h, device=mask.device))
        pos = torch.cat(
            (cols[None].expand(h, -1, -1), rows[:, None].expand(-1, w, -1)),
            dim=-1,
        )
        return pos.permute(2, 0, 1)[None].repeat(bs, 1, 1, 1)

    def __repr__(self):
        return (
            f'{type(self).__name__}(num_feats={self.num_feats}, '
            f'row_num_embed={self.row_num_embed}, '
            f'col_num_embed={self.col_num_embed})'
        )
