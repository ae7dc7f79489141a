"""Mask2Former's pixel decoder: a multi-scale deformable-attention encoder
over the coarsest levels, then an FPN-like top-down path to the finer
ones."""

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import (
    PLUGIN_LAYERS,
    Conv2d,
    ConvModule,
    caffe2_xavier_init,
    normal_init,
    xavier_init,
)
from mmcv.cnn.bricks.transformer import (
    build_positional_encoding,
    build_transformer_layer_sequence,
)
from mmcv.runner import BaseModule, ModuleList

from mmdet.core.anchor import MlvlPointGenerator
from mmdet.utils.arg_errors import check_arg
from ..utils.ms_deform_attn import MultiScaleDeformableAttention


@PLUGIN_LAYERS.register_module()
class MSDeformAttnPixelDecoder(BaseModule):
    """The last ``num_levels`` (of the encoder's attention) input levels
    are projected (``input_convs``, coarsest first), encoded together with
    sine positions plus a learned ``level_encoding``, and the finer levels
    join top-down (``lateral_convs`` 1x1 + bilinear upsampling +
    ``output_convs`` 3x3).

    ``forward(feats)`` -> ``(mask_feature (B, out_channels, H0, W0), the
    first num_outs maps of the path, coarsest first, (B, feat_channels,
    h, w) each)``.
    """

    def __init__(
        self,
        in_channels=[256, 512, 1024, 2048],
        strides=[4, 8, 16, 32],
        feat_channels=256,
        out_channels=256,
        num_outs=3,
        norm_cfg=dict(type='GN', num_groups=32),
        act_cfg=dict(type='ReLU'),
        encoder=dict(
            type='DetrTransformerEncoder',
            num_layers=6,
            transformerlayers=dict(
                type='BaseTransformerLayer',
                attn_cfgs=dict(
                    type='MultiScaleDeformableAttention',
                    embed_dims=256,
                    num_heads=8,
                    num_levels=3,
                    num_points=4,
                    im2col_step=64,
                    dropout=0.0,
                    batch_first=False,
                    norm_cfg=None,
                    init_cfg=None,
                ),
                feedforward_channels=1024,
                ffn_dropout=0.0,
                operation_order=('self_attn', 'norm', 'ffn', 'norm'),
            ),
            init_cfg=None,
        ),
        positional_encoding=dict(
            type='SinePositionalEncoding', num_feats=128, normalize=True
        ),
        init_cfg=None,
    ):
        super().__init__(init_cfg=init_cfg)
        self.strides = strides
        self.num_input_levels = len(in_channels)
        self.num_encoder_levels = encoder['transformerlayers']['attn_cfgs'][
            'num_levels'
        ]
        check_arg(
            1 <= self.num_encoder_levels <= self.num_input_levels,
            'MSDeformAttnPixelDecoder',
            'the encoder needs 1 to len(in_channels) levels',
        )
        encoded = range(
            self.num_input_levels - 1,
            self.num_input_levels - self.num_encoder_levels - 1,
            -1,
        )
        self.input_convs = ModuleList(
            ConvModule(
                in_channels[i],
                feat_channels,
                1,
                norm_cfg=norm_cfg,
                act_cfg=None,
                bias=True,
            )
            for i in encoded
        )
        self.encoder = build_transformer_layer_sequence(encoder)
        # 'postional' (sic): MMDetection's attribute name
        self.postional_encoding = build_positional_encoding(
            positional_encoding
        )
        self.level_encoding = nn.Embedding(
            self.num_encoder_levels, feat_channels
        )
        self.use_bias = norm_cfg is None
        num_fine = self.num_input_levels - self.num_encoder_levels
        self.lateral_convs = ModuleList()
        self.output_convs = ModuleList()
        for i in range(num_fine - 1, -1, -1):
            self.lateral_convs.append(
                ConvModule(
                    in_channels[i],
                    feat_channels,
                    1,
                    bias=self.use_bias,
                    norm_cfg=norm_cfg,
                    act_cfg=None,
                )
            )
            self.output_convs.append(
                ConvModule(
                    feat_channels,
                    feat_channels,
                    3,
                    padding=1,
                    bias=self.use_bias,
                    norm_cfg=norm_cfg,
                    act_cfg=act_cfg,
                )
            )
        self.mask_feature = Conv2d(feat_channels, out_channels, 1)
        self.num_outs = num_outs
        self.point_generator = MlvlPointGenerator(strides)

    def init_weights(self):
        for conv in self.input_convs:
            xavier_init(conv.conv, gain=1, bias=0, distribution='uniform')
        for lateral, output in zip(self.lateral_convs, self.output_convs):
            caffe2_xavier_init(lateral.conv, bias=0)
            caffe2_xavier_init(output.conv, bias=0)
        caffe2_xavier_init(self.mask_feature, bias=0)
        normal_init(self.level_encoding, mean=0, std=1)
        for p in self.encoder.parameters():
            if p.dim() > 1:
                nn.init.xavier_normal_(p)
        for layer in self.encoder.layers:
            for attn in layer.attentions:
                if isinstance(attn, MultiScaleDeformableAttention):
                    attn.init_weights()

    def _level_tokens(self, feats, i):
        """Encoder level ``i`` (0: coarsest): projected tokens, position
        tokens (hw, B, C) and normalised reference points (hw, 2)."""
        level = self.num_input_levels - i - 1
        feat = feats[level]
        bs, _, h, w = feat.shape
        no_padding = feat.new_zeros((bs, h, w), dtype=torch.bool)
        pos = self.postional_encoding(no_padding)
        pos = pos + self.level_encoding.weight[i].view(1, -1, 1, 1)
        points = self.point_generator.single_level_grid_priors(
            (h, w), level, device=feat.device
        )
        points = points / (feat.new_tensor([[w, h]]) * self.strides[level])
        tokens = self.input_convs[i](feat).flatten(2).permute(2, 0, 1)
        return tokens, pos.flatten(2).permute(2, 0, 1), points

    def _encode(self, feats):
        """The encoder levels' outputs, coarsest first, (B, C, h, w)."""
        bs = feats[0].shape[0]
        levels = [
            self._level_tokens(feats, i)
            for i in range(self.num_encoder_levels)
        ]
        tokens, pos, points = (torch.cat(x) for x in zip(*levels))
        shapes = [
            feats[self.num_input_levels - i - 1].shape[-2:]
            for i in range(self.num_encoder_levels)
        ]
        spatial_shapes = torch.as_tensor(
            shapes, dtype=torch.long, device=tokens.device
        )
        sizes = spatial_shapes.prod(1)
        level_start_index = torch.cat(
            [sizes.new_zeros((1,)), sizes.cumsum(0)[:-1]]
        )
        reference_points = points[None, :, None].repeat(
            bs, 1, self.num_encoder_levels, 1
        )
        memory = self.encoder(
            query=tokens,
            key=None,
            value=None,
            query_pos=pos,
            key_pos=None,
            attn_masks=None,
            key_padding_mask=None,
            query_key_padding_mask=tokens.new_zeros(
                (bs, tokens.shape[0]), dtype=torch.bool
            ),
            spatial_shapes=spatial_shapes,
            reference_points=reference_points,
            level_start_index=level_start_index,
            valid_radios=reference_points.new_ones(
                (bs, self.num_encoder_levels, 2)
            ),
        )
        memory = memory.permute(1, 2, 0)
        outs = memory.split(sizes.tolist(), dim=-1)
        return [x.reshape(bs, -1, *s) for x, s in zip(outs, shapes)]

    def forward(self, feats):
        outs = self._encode(feats)
        num_fine = self.num_input_levels - self.num_encoder_levels
        for i in range(num_fine - 1, -1, -1):
            lateral = self.lateral_convs[i](feats[i])
            up = F.interpolate(
                outs[-1],
                size=lateral.shape[-2:],
                mode='bilinear',
                align_corners=False,
            )
            outs.append(self.output_convs[i](lateral + up))
        return self.mask_feature(outs[-1]), outs[: self.num_outs]
