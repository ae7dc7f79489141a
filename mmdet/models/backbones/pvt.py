"""Pyramid Vision Transformer v1 and v2 (MMDetection 2.x
``PyramidVisionTransformer`` / ``PyramidVisionTransformerV2``).

Stage ``i`` is ``layers.i = [patch embedding, blocks, norm]``; with absolute
position embeddings (v1) the blocks start with the embedding
(``layers.i.1.0.pos_embed``). Attention keys and values come from the map
reduced by a strided conv (``sr``, spatial-reduction attention); v2's FFN has
a 3x3 depthwise conv between its 1x1 convs. ``convert_weights=True`` reads
the PVT authors' ImageNet releases (``ckpt_convert.pvt_convert``).
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import (
    Conv2d,
    build_activation_layer,
    build_norm_layer,
    constant_init,
    initialize,
    normal_init,
    trunc_normal_init,
)
from mmcv.cnn.bricks.drop import build_dropout
from mmcv.cnn.bricks.transformer import MultiheadAttention, PatchEmbed
from mmcv.runner import BaseModule, ModuleList, Sequential

from mmdet.utils.arg_errors import check_arg
from ..builder import BACKBONES
from ..utils.ckpt_convert import pvt_convert
from ..utils.transformer import nchw_to_nlc, nlc_to_nchw
from .base_backbone import (
    has_checkpoint,
    image_size_pair,
    load_init_cfg_checkpoint,
)


class MixFFN(BaseModule):
    """FFN of 1x1 convs on the token map (``(B, H*W, C)`` in and out, plus
    ``identity``), with a 3x3 depthwise conv after the first when
    ``use_conv`` (PVTv2)."""

    def __init__(
        self,
        embed_dims,
        feedforward_channels,
        act_cfg=dict(type='GELU'),
        ffn_drop=0.0,
        dropout_layer=None,
        use_conv=False,
        init_cfg=None,
    ):
        super().__init__(init_cfg)
        self.embed_dims = embed_dims
        self.feedforward_channels = feedforward_channels
        self.act_cfg = act_cfg
        hidden = feedforward_channels
        drop = nn.Dropout(ffn_drop)
        layers = [
            Conv2d(embed_dims, hidden, 1),
            build_activation_layer(act_cfg),
            drop,
            Conv2d(hidden, embed_dims, 1),
            drop,
        ]
        if use_conv:
            layers.insert(1, Conv2d(hidden, hidden, 3, 1, 1, groups=hidden))
        self.layers = Sequential(*layers)
        self.dropout_layer = (
            build_dropout(dropout_layer) if dropout_layer else nn.Identity()
        )

    def forward(self, x, hw_shape, identity=None):
        out = nchw_to_nlc(self.layers(nlc_to_nchw(x, hw_shape)))
        return (x if identity is None else identity) + self.dropout_layer(out)


class SpatialReductionAttention(MultiheadAttention):
    """mmcv's ``MultiheadAttention`` whose keys/values are the token map
    reduced ``sr_ratio`` times by a strided conv (``sr``) and LayerNorm
    (``norm``). ``forward(x, hw_shape, identity)`` on ``(B, H*W, C)``."""

    def __init__(
        self,
        embed_dims,
        num_heads,
        attn_drop=0.0,
        proj_drop=0.0,
        dropout_layer=None,
        batch_first=True,
        qkv_bias=True,
        norm_cfg=dict(type='LN'),
        sr_ratio=1,
        init_cfg=None,
    ):
        super().__init__(
            embed_dims,
            num_heads,
            attn_drop,
            proj_drop,
            batch_first=batch_first,
            dropout_layer=dropout_layer,
            bias=qkv_bias,
            init_cfg=init_cfg,
        )
        self.sr_ratio = sr_ratio
        if sr_ratio > 1:
            self.sr = Conv2d(embed_dims, embed_dims, sr_ratio, sr_ratio)
            self.norm = build_norm_layer(norm_cfg, embed_dims)[1]

    def forward(self, x, hw_shape, identity=None):
        x_kv = x
        if self.sr_ratio > 1:
            x_kv = self.norm(nchw_to_nlc(self.sr(nlc_to_nchw(x, hw_shape))))
        x_q = x
        if self.batch_first:
            x_q, x_kv = x_q.transpose(0, 1), x_kv.transpose(0, 1)
        out = self.attn(query=x_q, key=x_kv, value=x_kv)[0]
        if self.batch_first:
            out = out.transpose(0, 1)
        identity = x if identity is None else identity
        return identity + self.dropout_layer(self.proj_drop(out))


class PVTEncoderLayer(BaseModule):
    """Pre-norm spatial-reduction attention + ``MixFFN``, both residual."""

    def __init__(
        self,
        embed_dims,
        num_heads,
        feedforward_channels,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        drop_path_rate=0.0,
        qkv_bias=True,
        act_cfg=dict(type='GELU'),
        norm_cfg=dict(type='LN'),
        sr_ratio=1,
        use_conv_ffn=False,
        init_cfg=None,
    ):
        super().__init__(init_cfg)
        drop_path = dict(type='DropPath', drop_prob=drop_path_rate)
        self.norm1 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.attn = SpatialReductionAttention(
            embed_dims=embed_dims,
            num_heads=num_heads,
            attn_drop=attn_drop_rate,
            proj_drop=drop_rate,
            dropout_layer=drop_path,
            qkv_bias=qkv_bias,
            norm_cfg=norm_cfg,
            sr_ratio=sr_ratio,
        )
        self.norm2 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.ffn = MixFFN(
            embed_dims=embed_dims,
            feedforward_channels=feedforward_channels,
            ffn_drop=drop_rate,
            dropout_layer=drop_path,
            use_conv=use_conv_ffn,
            act_cfg=act_cfg,
        )

    def forward(self, x, hw_shape):
        x = self.attn(self.norm1(x), hw_shape, identity=x)
        return self.ffn(self.norm2(x), hw_shape, identity=x)


class AbsolutePositionEmbedding(BaseModule):
    """Learned ``(1, h*w, C)`` embedding of a ``pos_shape`` grid, resized
    (bilinear) to the input's map and added, then dropout."""

    def __init__(self, pos_shape, pos_dim, drop_rate=0.0, init_cfg=None):
        super().__init__(init_cfg)
        self.pos_shape = image_size_pair(pos_shape, type(self).__name__)
        self.pos_dim = pos_dim
        h, w = self.pos_shape
        self.pos_embed = nn.Parameter(torch.zeros(1, h * w, pos_dim))
        self.drop = nn.Dropout(p=drop_rate)

    def init_weights(self):
        nn.init.trunc_normal_(self.pos_embed, std=0.02)

    def resize_pos_embed(self, pos_embed, input_shape, mode='bilinear'):
        """``(1, L, C)`` (its last ``h*w`` tokens are the grid) ->
        ``(1, H*W, C)`` for ``input_shape = (H, W)``."""
        h, w = self.pos_shape
        grid = pos_embed[:, -h * w :].reshape(1, h, w, self.pos_dim)
        grid = F.interpolate(
            grid.permute(0, 3, 1, 2), size=input_shape, mode=mode
        )
        return grid.flatten(2).transpose(1, 2).contiguous()

    def forward(self, x, hw_shape, mode='bilinear'):
        return self.drop(x + self.resize_pos_embed(self.pos_embed, hw_shape))


@BACKBONES.register_module()
class PyramidVisionTransformer(BaseModule):
    """PVT; returns the ``(B, embed_dims * num_heads[i], H_i, W_i)`` maps of
    the stages in ``out_indices``.

    Args: MMDetection 2.28's (``pretrain_img_size``, ``in_channels``,
    ``embed_dims`` (per head: stage i has ``embed_dims * num_heads[i]``
    channels), ``num_stages``, ``num_layers``, ``num_heads``,
    ``patch_sizes``, ``strides``, ``paddings``, ``sr_ratios``,
    ``out_indices``, ``mlp_ratios``, ``qkv_bias``, ``drop_rate``,
    ``attn_drop_rate``, ``drop_path_rate``, ``use_abs_pos_embed``,
    ``norm_after_stage``, ``use_conv_ffn``, ``act_cfg``, ``norm_cfg``,
    ``pretrained`` (deprecated spelling of ``init_cfg=dict(type=
    'Pretrained', checkpoint=...)``), ``convert_weights``, ``init_cfg``;
    an ``init_cfg`` with a ``checkpoint`` loads it, with or without
    ``type``).
    """

    def __init__(
        self,
        pretrain_img_size=224,
        in_channels=3,
        embed_dims=64,
        num_stages=4,
        num_layers=[3, 4, 6, 3],
        num_heads=[1, 2, 5, 8],
        patch_sizes=[4, 2, 2, 2],
        strides=[4, 2, 2, 2],
        paddings=[0, 0, 0, 0],
        sr_ratios=[8, 4, 2, 1],
        out_indices=(0, 1, 2, 3),
        mlp_ratios=[8, 8, 4, 4],
        qkv_bias=True,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        drop_path_rate=0.1,
        use_abs_pos_embed=True,
        norm_after_stage=False,
        use_conv_ffn=False,
        act_cfg=dict(type='GELU'),
        norm_cfg=dict(type='LN', eps=1e-6),
        pretrained=None,
        convert_weights=True,
        init_cfg=None,
    ):
        name = type(self).__name__
        check_arg(
            not (init_cfg and pretrained),
            name,
            'init_cfg and pretrained cannot be specified at the same time',
        )
        if pretrained is not None and not isinstance(pretrained, str):
            raise TypeError(f'{name}: pretrained must be a str or None')
        if pretrained is not None:
            init_cfg = dict(type='Pretrained', checkpoint=pretrained)
        super().__init__(init_cfg)
        per_stage = (num_layers, num_heads, patch_sizes, strides, sr_ratios)
        check_arg(
            all(len(v) == num_stages for v in per_stage),
            name,
            f'num_layers, num_heads, patch_sizes, strides and sr_ratios '
            f'need {num_stages} (num_stages) entries each',
        )
        check_arg(
            max(out_indices) < num_stages,
            name,
            f'out_indices {out_indices} beyond {num_stages} stages',
        )
        self.convert_weights = convert_weights
        self.pretrained = pretrained
        self.embed_dims = embed_dims
        self.num_stages = num_stages
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.patch_sizes = patch_sizes
        self.strides = strides
        self.sr_ratios = sr_ratios
        self.out_indices = out_indices
        img_size = image_size_pair(pretrain_img_size, name)
        rates = torch.linspace(0, drop_path_rate, sum(num_layers)).tolist()
        self.layers = ModuleList()
        for i, depth in enumerate(num_layers):
            dims = embed_dims * num_heads[i]
            patch_embed = PatchEmbed(
                in_channels=in_channels,
                embed_dims=dims,
                kernel_size=patch_sizes[i],
                stride=strides[i],
                padding=paddings[i],
                bias=True,
                norm_cfg=norm_cfg,
            )
            blocks = ModuleList()
            if use_abs_pos_embed:
                reduce = math.prod(patch_sizes[: i + 1])
                pos_shape = tuple(s // reduce for s in img_size)
                blocks.append(
                    AbsolutePositionEmbedding(pos_shape, dims, drop_rate)
                )
            start = sum(num_layers[:i])
            blocks.extend(
                PVTEncoderLayer(
                    embed_dims=dims,
                    num_heads=num_heads[i],
                    feedforward_channels=mlp_ratios[i] * dims,
                    drop_rate=drop_rate,
                    attn_drop_rate=attn_drop_rate,
                    drop_path_rate=rates[start + j],
                    qkv_bias=qkv_bias,
                    act_cfg=act_cfg,
                    norm_cfg=norm_cfg,
                    sr_ratio=sr_ratios[i],
                    use_conv_ffn=use_conv_ffn,
                )
                for j in range(depth)
            )
            norm = nn.Identity()
            if norm_after_stage:
                norm = build_norm_layer(norm_cfg, dims)[1]
            self.layers.append(ModuleList([patch_embed, blocks, norm]))
            in_channels = dims

    def init_weights(self):
        """The ``init_cfg`` checkpoint, or random initialisation (truncated
        normal linears, He-normal convs, std 0.02 position embeddings)
        followed by any other mmcv ``init_cfg``."""
        if has_checkpoint(self.init_cfg):
            convert = pvt_convert if self.convert_weights else dict
            load_init_cfg_checkpoint(self, convert)
            self._is_init = True
            return
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_init(m, std=0.02, bias=0.0)
            elif isinstance(m, nn.LayerNorm):
                constant_init(m, 1.0)
            elif isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                normal_init(m, 0, math.sqrt(2.0 / (fan_out // m.groups)))
            elif isinstance(m, AbsolutePositionEmbedding):
                m.init_weights()
        if self.init_cfg is not None:
            initialize(self, self.init_cfg)
        self._is_init = True

    def forward(self, x):
        outs = []
        for i, (patch_embed, blocks, norm) in enumerate(self.layers):
            x, hw_shape = patch_embed(x)
            for block in blocks:
                x = block(x, hw_shape)
            x = nlc_to_nchw(norm(x), hw_shape)
            if i in self.out_indices:
                outs.append(x)
        return outs


@BACKBONES.register_module()
class PyramidVisionTransformerV2(PyramidVisionTransformer):
    """PVTv2: overlapping patch embeddings (7x7 then 3x3 kernels), no
    absolute position embedding, a LayerNorm after each stage and the
    depthwise-conv FFN. Takes the other arguments of
    ``PyramidVisionTransformer``."""

    def __init__(self, **kwargs):
        super().__init__(
            patch_sizes=[7, 3, 3, 3],
            paddings=[3, 1, 1, 1],
            use_abs_pos_embed=False,
            norm_after_stage=True,
            use_conv_ffn=True,
            **kwargs,
        )
