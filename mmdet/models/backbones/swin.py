"""Swin Transformer (MMDetection 2.x ``SwinTransformer``).

Module names follow MMDetection's checkpoints: ``patch_embed``,
``stages.N.blocks.M.{norm1,attn.w_msa,norm2,ffn}``, ``stages.N.downsample``
(patch merging) and one ``normN`` per output stage. ``convert_weights=True``
reads the Swin authors' ImageNet release (``ckpt_convert.swin_converter``).
"""

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn import (
    build_norm_layer,
    constant_init,
    initialize,
    trunc_normal_init,
)
from mmcv.cnn.bricks.drop import build_dropout
from mmcv.cnn.bricks.transformer import FFN, PatchEmbed, PatchMerging
from mmcv.runner import BaseModule, ModuleList
from mmcv.utils import to_2tuple

from mmdet.utils.arg_errors import check_arg
from mmdet.utils.logger import get_root_logger
from ..builder import BACKBONES
from ..utils.ckpt_convert import swin_converter
from .base_backbone import (
    has_checkpoint,
    image_size_pair,
    load_init_cfg_checkpoint,
)

# added to the logits of token pairs from different regions of a shifted
# window: MMDetection's (and the Swin authors') value, so results match
MASKED_LOGIT = -100.0


def relative_position_index(window_size):
    """``(Wh*Ww, Wh*Ww)`` long: row of ``relative_position_bias_table`` for
    each pair of tokens of a ``(Wh, Ww)`` window (row-major tokens)."""
    wh, ww = window_size
    ys, xs = torch.meshgrid(torch.arange(wh), torch.arange(ww), indexing='ij')
    ys, xs = ys.flatten(), xs.flatten()
    dy = ys[:, None] - ys[None, :] + wh - 1
    dx = xs[:, None] - xs[None, :] + ww - 1
    return dy * (2 * ww - 1) + dx


def window_partition(x, window_size):
    """``(B, H, W, C)`` -> ``(B*nW, ws, ws, C)``, windows row-major."""
    b, h, w, c = x.shape
    ws = window_size
    x = x.view(b, h // ws, ws, w // ws, ws, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, ws, ws, c)


def window_reverse(windows, height, width):
    """Inverse of ``window_partition``: ``(B*nW, ws, ws, C)`` ->
    ``(B, H, W, C)``."""
    ws = windows.shape[1]
    nh, nw = height // ws, width // ws
    x = windows.view(-1, nh, nw, ws, ws, windows.shape[-1])
    return x.permute(0, 1, 3, 2, 4, 5).reshape(x.shape[0], height, width, -1)


def shifted_window_mask(height, width, window_size, shift_size, device=None):
    """``(nW, ws*ws, ws*ws)`` additive mask of a window attention on a map
    rolled by ``-shift_size``: 0 between tokens that were neighbours before
    the roll (same region), ``MASKED_LOGIT`` between tokens the roll brought
    together from opposite borders."""

    def region(size):
        pos = torch.arange(size, device=device)
        return (pos >= size - window_size).long() + (
            pos >= size - shift_size
        ).long()

    labels = region(height)[:, None] * 3 + region(width)[None, :]
    labels = window_partition(labels[None, :, :, None], window_size)
    labels = labels.reshape(-1, window_size * window_size)
    differ = labels[:, :, None] != labels[:, None, :]
    return differ.float() * MASKED_LOGIT


class WindowMSA(BaseModule):
    """Multi-head self-attention inside a window, with the learned relative
    position bias. Input and output ``(B*nW, Wh*Ww, C)``."""

    def __init__(
        self,
        embed_dims,
        num_heads,
        window_size,
        qkv_bias=True,
        qk_scale=None,
        attn_drop_rate=0.0,
        proj_drop_rate=0.0,
        init_cfg=None,
    ):
        super().__init__(init_cfg)
        self.embed_dims = embed_dims
        self.window_size = window_size
        self.num_heads = num_heads
        self.scale = qk_scale or (embed_dims // num_heads) ** -0.5
        wh, ww = window_size
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * wh - 1) * (2 * ww - 1), num_heads)
        )
        self.register_buffer(
            'relative_position_index', relative_position_index(window_size)
        )
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop_rate)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop_rate)
        self.softmax = nn.Softmax(dim=-1)

    def init_weights(self):
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def position_bias(self):
        """``(nH, N, N)``: the bias added to each head's logits."""
        n = self.relative_position_index.shape[0]
        table = self.relative_position_bias_table
        bias = table[self.relative_position_index.view(-1)].view(n, n, -1)
        return bias.permute(2, 0, 1)

    def forward(self, x, mask=None):
        """``mask``: ``(nW, N, N)`` additive logits, windows of one image in
        the order of ``window_partition``, or None."""
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        attn = (q * self.scale) @ k.transpose(-2, -1) + self.position_bias()
        if mask is not None:
            nw = mask.shape[0]
            attn = attn.view(b // nw, nw, self.num_heads, n, n)
            attn = (attn + mask[None, :, None]).view(-1, self.num_heads, n, n)
        attn = self.attn_drop(self.softmax(attn))
        x = (attn @ v).transpose(1, 2).reshape(b, n, c)
        return self.proj_drop(self.proj(x))


class ShiftWindowMSA(BaseModule):
    """(Shifted) window attention over a ``(B, H*W, C)`` token map: pads to
    whole windows, rolls by ``-shift_size`` and masks the pairs the roll
    joined, attends in windows, undoes both."""

    def __init__(
        self,
        embed_dims,
        num_heads,
        window_size,
        shift_size=0,
        qkv_bias=True,
        qk_scale=None,
        attn_drop_rate=0,
        proj_drop_rate=0,
        dropout_layer=dict(type='DropPath', drop_prob=0.0),
        init_cfg=None,
    ):
        super().__init__(init_cfg)
        check_arg(
            0 <= shift_size < window_size,
            'ShiftWindowMSA',
            f'shift_size must be in [0, window_size={window_size}), '
            f'got {shift_size}',
        )
        self.window_size = window_size
        self.shift_size = shift_size
        self.w_msa = WindowMSA(
            embed_dims,
            num_heads,
            to_2tuple(window_size),
            qkv_bias=qkv_bias,
            qk_scale=qk_scale,
            attn_drop_rate=attn_drop_rate,
            proj_drop_rate=proj_drop_rate,
        )
        self.drop = build_dropout(dropout_layer)

    def forward(self, query, hw_shape):
        b, length, c = query.shape
        h, w = hw_shape
        check_arg(
            length == h * w,
            'ShiftWindowMSA',
            f'{length} tokens for an {h}x{w} map',
        )
        ws, shift = self.window_size, self.shift_size
        x = query.view(b, h, w, c)
        x = F.pad(x, (0, 0, 0, (-w) % ws, 0, (-h) % ws))
        h_pad, w_pad = x.shape[1:3]
        mask = None
        if shift > 0:
            x = torch.roll(x, shifts=(-shift, -shift), dims=(1, 2))
            mask = shifted_window_mask(h_pad, w_pad, ws, shift, x.device)
            mask = mask.to(x.dtype)
        windows = window_partition(x, ws).view(-1, ws * ws, c)
        windows = self.w_msa(windows, mask=mask).view(-1, ws, ws, c)
        x = window_reverse(windows, h_pad, w_pad)
        if shift > 0:
            x = torch.roll(x, shifts=(shift, shift), dims=(1, 2))
        x = x[:, :h, :w].reshape(b, h * w, c)
        return self.drop(x)


class SwinBlock(BaseModule):
    """Pre-norm (shifted) window attention + FFN, both residual; shifted by
    half a window when ``shift``."""

    def __init__(
        self,
        embed_dims,
        num_heads,
        feedforward_channels,
        window_size=7,
        shift=False,
        qkv_bias=True,
        qk_scale=None,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        drop_path_rate=0.0,
        act_cfg=dict(type='GELU'),
        norm_cfg=dict(type='LN'),
        with_cp=False,
        init_cfg=None,
    ):
        super().__init__(init_cfg)
        self.with_cp = with_cp
        drop_path = dict(type='DropPath', drop_prob=drop_path_rate)
        self.norm1 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.attn = ShiftWindowMSA(
            embed_dims,
            num_heads,
            window_size,
            shift_size=window_size // 2 if shift else 0,
            qkv_bias=qkv_bias,
            qk_scale=qk_scale,
            attn_drop_rate=attn_drop_rate,
            proj_drop_rate=drop_rate,
            dropout_layer=drop_path,
        )
        self.norm2 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.ffn = FFN(
            embed_dims=embed_dims,
            feedforward_channels=feedforward_channels,
            num_fcs=2,
            ffn_drop=drop_rate,
            dropout_layer=drop_path,
            act_cfg=act_cfg,
            add_identity=True,
        )

    def forward(self, x, hw_shape):
        def inner(x):
            x = x + self.attn(self.norm1(x), hw_shape)
            return self.ffn(self.norm2(x), identity=x)

        if self.with_cp and x.requires_grad:
            return cp.checkpoint(inner, x, use_reentrant=False)
        return inner(x)


class SwinBlockSequence(BaseModule):
    """One stage: ``depth`` blocks alternating plain and shifted windows,
    then ``downsample`` (a ``PatchMerging`` or None).

    ``forward`` returns ``(x_next, hw_next, x_out, hw_out)``: the input of
    the next stage and this stage's output (before the downsampling).
    """

    def __init__(
        self,
        embed_dims,
        num_heads,
        feedforward_channels,
        depth,
        window_size=7,
        qkv_bias=True,
        qk_scale=None,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        drop_path_rate=0.0,
        downsample=None,
        act_cfg=dict(type='GELU'),
        norm_cfg=dict(type='LN'),
        with_cp=False,
        init_cfg=None,
    ):
        super().__init__(init_cfg)
        rates = drop_path_rate
        if not isinstance(rates, (list, tuple)):
            rates = [rates] * depth
        check_arg(
            len(rates) == depth,
            'SwinBlockSequence',
            f'{len(rates)} drop path rates for {depth} blocks',
        )
        self.blocks = ModuleList(
            SwinBlock(
                embed_dims,
                num_heads,
                feedforward_channels,
                window_size=window_size,
                shift=i % 2 == 1,
                qkv_bias=qkv_bias,
                qk_scale=qk_scale,
                drop_rate=drop_rate,
                attn_drop_rate=attn_drop_rate,
                drop_path_rate=rates[i],
                act_cfg=act_cfg,
                norm_cfg=norm_cfg,
                with_cp=with_cp,
            )
            for i in range(depth)
        )
        self.downsample = downsample

    def forward(self, x, hw_shape):
        for block in self.blocks:
            x = block(x, hw_shape)
        if self.downsample is None:
            return x, hw_shape, x, hw_shape
        x_down, down_hw_shape = self.downsample(x, hw_shape)
        return x_down, down_hw_shape, x, hw_shape


@BACKBONES.register_module()
class SwinTransformer(BaseModule):
    """Swin Transformer; returns the ``(B, embed_dims * 2**i, H_i, W_i)``
    maps of the stages in ``out_indices`` (strides 4, 8, 16, 32 by
    default), each after its own LayerNorm ``norm{i}``.

    Args: MMDetection 2.28's (``pretrain_img_size``, ``in_channels``,
    ``embed_dims``, ``patch_size``, ``window_size``, ``mlp_ratio``,
    ``depths``, ``num_heads``, ``strides``, ``out_indices``, ``qkv_bias``,
    ``qk_scale``, ``patch_norm``, ``drop_rate``, ``attn_drop_rate``,
    ``drop_path_rate`` (linear over all blocks), ``use_abs_pos_embed``,
    ``act_cfg``, ``norm_cfg``, ``with_cp``, ``pretrained`` (deprecated
    spelling of ``init_cfg=dict(type='Pretrained', checkpoint=...)``),
    ``convert_weights`` (the checkpoint is the Swin authors' release),
    ``frozen_stages`` (-1: none; 0: the patch embedding; i: also stages
    ``< i`` and their norms), ``init_cfg``).
    """

    def __init__(
        self,
        pretrain_img_size=224,
        in_channels=3,
        embed_dims=96,
        patch_size=4,
        window_size=7,
        mlp_ratio=4,
        depths=(2, 2, 6, 2),
        num_heads=(3, 6, 12, 24),
        strides=(4, 2, 2, 2),
        out_indices=(0, 1, 2, 3),
        qkv_bias=True,
        qk_scale=None,
        patch_norm=True,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        drop_path_rate=0.1,
        use_abs_pos_embed=False,
        act_cfg=dict(type='GELU'),
        norm_cfg=dict(type='LN'),
        with_cp=False,
        pretrained=None,
        convert_weights=False,
        frozen_stages=-1,
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
        check_arg(
            strides[0] == patch_size,
            name,
            f'strides[0] ({strides[0]}) must equal patch_size '
            f'({patch_size}): the patch embedding does not overlap',
        )
        self.convert_weights = convert_weights
        self.frozen_stages = frozen_stages
        self.out_indices = out_indices
        self.use_abs_pos_embed = use_abs_pos_embed
        self.patch_embed = PatchEmbed(
            in_channels=in_channels,
            embed_dims=embed_dims,
            conv_type='Conv2d',
            kernel_size=patch_size,
            stride=strides[0],
            norm_cfg=norm_cfg if patch_norm else None,
        )
        if use_abs_pos_embed:
            rows, cols = image_size_pair(pretrain_img_size, name)
            self.absolute_pos_embed = nn.Parameter(
                torch.zeros(
                    1, embed_dims, rows // patch_size, cols // patch_size
                )
            )
        self.drop_after_pos = nn.Dropout(p=drop_rate)
        self._build_stages(
            embed_dims,
            depths,
            num_heads,
            strides,
            dict(
                window_size=window_size,
                qkv_bias=qkv_bias,
                qk_scale=qk_scale,
                drop_rate=drop_rate,
                attn_drop_rate=attn_drop_rate,
                act_cfg=act_cfg,
                norm_cfg=norm_cfg,
                with_cp=with_cp,
            ),
            mlp_ratio,
            drop_path_rate,
            norm_cfg if patch_norm else None,
        )
        self.num_features = [embed_dims * 2**i for i in range(len(depths))]
        for i in out_indices:
            norm = build_norm_layer(norm_cfg, self.num_features[i])[1]
            self.add_module(f'norm{i}', norm)

    def _build_stages(
        self,
        channels,
        depths,
        num_heads,
        strides,
        block_args,
        mlp_ratio,
        drop_path_rate,
        merge_norm_cfg,
    ):
        rates = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        self.stages = ModuleList()
        for i, depth in enumerate(depths):
            downsample = None
            if i < len(depths) - 1:
                downsample = PatchMerging(
                    in_channels=channels,
                    out_channels=2 * channels,
                    stride=strides[i + 1],
                    norm_cfg=merge_norm_cfg,
                )
            start = sum(depths[:i])
            self.stages.append(
                SwinBlockSequence(
                    channels,
                    num_heads[i],
                    int(mlp_ratio * channels),
                    depth,
                    drop_path_rate=rates[start : start + depth],
                    downsample=downsample,
                    **block_args,
                )
            )
            if downsample is not None:
                channels = downsample.out_channels

    def train(self, mode=True):
        super().train(mode)
        self._freeze_stages()
        return self

    def _frozen_modules(self):
        if self.frozen_stages < 0:
            return []
        modules = [self.patch_embed, self.drop_after_pos]
        for i in range(self.frozen_stages):
            modules.append(self.stages[i])
            if i in self.out_indices:
                modules.append(getattr(self, f'norm{i}'))
        return modules

    def _freeze_stages(self):
        for module in self._frozen_modules():
            module.eval()
            for param in module.parameters():
                param.requires_grad = False
        if self.frozen_stages >= 0 and self.use_abs_pos_embed:
            self.absolute_pos_embed.requires_grad = False

    def init_weights(self):
        """The ``init_cfg`` checkpoint, or random initialisation (truncated
        normal, std 0.02, for linear layers and position tables) followed
        by any other mmcv ``init_cfg`` (``TruncNormal``...)."""
        if has_checkpoint(self.init_cfg):
            self._load_pretrained()
            self._is_init = True
            return
        if self.use_abs_pos_embed:
            nn.init.trunc_normal_(self.absolute_pos_embed, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_init(m, std=0.02, bias=0.0)
            elif isinstance(m, nn.LayerNorm):
                constant_init(m, 1.0)
            elif isinstance(m, WindowMSA):
                m.init_weights()
        if self.init_cfg is not None:
            initialize(self, self.init_cfg)
        self._is_init = True

    def _load_pretrained(self):
        def convert(state_dict):
            if self.convert_weights:
                state_dict = swin_converter(state_dict)
            found = {
                k[len('backbone.') :]: v
                for k, v in state_dict.items()
                if k.startswith('backbone.')
            }
            return self._fit_position_tables(found or state_dict)

        load_init_cfg_checkpoint(self, convert)

    def _fit_position_tables(self, state_dict):
        """Reshape a ``(1, L, C)`` absolute embedding to ours and resize
        relative bias tables of another window size (bicubic)."""
        logger = get_root_logger()
        own = self.state_dict()
        pos = state_dict.get('absolute_pos_embed')
        if pos is not None and self.use_abs_pos_embed and pos.dim() == 3:
            n, c, h, w = self.absolute_pos_embed.shape
            if pos.shape == (n, h * w, c):
                pos = pos.view(n, h, w, c).permute(0, 3, 1, 2)
                state_dict['absolute_pos_embed'] = pos.contiguous()
        for key, table in list(state_dict.items()):
            if 'relative_position_bias_table' not in key or key not in own:
                continue
            (l1, h1), (l2, h2) = table.shape, own[key].shape
            if h1 != h2:
                logger.warning(f'{key}: {h1} heads, the model has {h2}')
            elif l1 != l2:
                s1, s2 = int(l1**0.5), int(l2**0.5)
                grid = table.permute(1, 0).reshape(1, h1, s1, s1)
                grid = F.interpolate(grid, size=(s2, s2), mode='bicubic')
                state_dict[key] = grid.view(h2, l2).permute(1, 0).contiguous()
        return state_dict

    def _position_embedding(self, hw_shape):
        pos = self.absolute_pos_embed
        if tuple(pos.shape[2:]) != tuple(hw_shape):
            pos = F.interpolate(
                pos, size=hw_shape, mode='bicubic', align_corners=False
            )
        return pos.flatten(2).transpose(1, 2)

    def forward(self, x):
        x, hw_shape = self.patch_embed(x)
        if self.use_abs_pos_embed:
            x = x + self._position_embedding(hw_shape)
        x = self.drop_after_pos(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x, hw_shape, out, out_hw = stage(x, hw_shape)
            if i in self.out_indices:
                out = getattr(self, f'norm{i}')(out)
                out = out.view(-1, *out_hw, self.num_features[i])
                outs.append(out.permute(0, 3, 1, 2).contiguous())
        return outs
