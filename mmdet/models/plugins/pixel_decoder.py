"""MaskFormer's pixel decoders: an FPN-like top-down path that turns the
backbone's levels into a per-pixel mask feature (stride of ``feats[0]``)
and a memory for the transformer decoder."""

import torch
import torch.nn.functional as F
from mmcv.cnn import PLUGIN_LAYERS, Conv2d, ConvModule, caffe2_xavier_init
from mmcv.cnn.bricks.transformer import (
    build_positional_encoding,
    build_transformer_layer_sequence,
)
from mmcv.runner import BaseModule, ModuleList

from mmdet.utils.arg_errors import check_arg


def padding_mask_at(img_metas, size, device):
    """(B, h, w) bool, True on padding: each image's valid area in the
    batch input, resized (nearest) to ``size``."""
    pad_h, pad_w = img_metas[0]['batch_input_shape']
    mask = torch.ones((len(img_metas), 1, pad_h, pad_w), device=device)
    for i, meta in enumerate(img_metas):
        img_h, img_w = meta['img_shape'][:2]
        mask[i, :, :img_h, :img_w] = 0
    return F.interpolate(mask, size=size, mode='nearest').bool()[:, 0]


@PLUGIN_LAYERS.register_module()
class PixelDecoder(BaseModule):
    """Top-down path: ``last_feat_conv`` on the last level, then per level
    (coarse to fine) a lateral 1x1 conv plus the upsampled (nearest) path
    and a 3x3 ``output_convs``; ``mask_feature`` is a 3x3 conv.

    ``forward(feats, img_metas)`` -> ``(mask_feature (B, out_channels, H0,
    W0), memory = feats[-1])``.
    """

    def __init__(
        self,
        in_channels,
        feat_channels,
        out_channels,
        norm_cfg=dict(type='GN', num_groups=32),
        act_cfg=dict(type='ReLU'),
        init_cfg=None,
    ):
        super().__init__(init_cfg=init_cfg)
        self.in_channels = in_channels
        self.num_inputs = len(in_channels)
        self.use_bias = norm_cfg is None
        conv = dict(bias=self.use_bias, norm_cfg=norm_cfg)
        self.lateral_convs = ModuleList(
            ConvModule(c, feat_channels, 1, act_cfg=None, **conv)
            for c in in_channels[:-1]
        )
        self.output_convs = ModuleList(
            ConvModule(
                feat_channels,
                feat_channels,
                3,
                padding=1,
                act_cfg=act_cfg,
                **conv,
            )
            for _ in in_channels[:-1]
        )
        self.last_feat_conv = ConvModule(
            in_channels[-1],
            feat_channels,
            3,
            padding=1,
            act_cfg=act_cfg,
            **conv,
        )
        self.mask_feature = Conv2d(
            feat_channels, out_channels, kernel_size=3, padding=1
        )

    def init_weights(self):
        # as MMDetection 2.28: the lateral/output loop stops one level short
        for i in range(self.num_inputs - 2):
            caffe2_xavier_init(self.lateral_convs[i].conv, bias=0)
            caffe2_xavier_init(self.output_convs[i].conv, bias=0)
        caffe2_xavier_init(self.mask_feature, bias=0)
        if self.last_feat_conv is not None:
            caffe2_xavier_init(self.last_feat_conv, bias=0)

    def _top_down(self, y, feats):
        """Add the laterals of ``feats[:-1]`` to ``y``, coarse to fine."""
        for i in range(self.num_inputs - 2, -1, -1):
            lateral = self.lateral_convs[i](feats[i])
            up = F.interpolate(y, size=lateral.shape[-2:], mode='nearest')
            y = self.output_convs[i](lateral + up)
        return self.mask_feature(y)

    def forward(self, feats, img_metas):
        y = self.last_feat_conv(feats[-1])
        return self._top_down(y, feats), feats[-1]


@PLUGIN_LAYERS.register_module()
class TransformerEncoderPixelDecoder(PixelDecoder):
    """``PixelDecoder`` whose last level goes through a transformer encoder
    (``encoder_in_proj`` 1x1, the encoder with sine positions and the
    padding mask, ``encoder_out_proj`` 3x3) instead of ``last_feat_conv``;
    the memory is the encoder's output (B, feat_channels, h, w)."""

    def __init__(
        self,
        in_channels,
        feat_channels,
        out_channels,
        norm_cfg=dict(type='GN', num_groups=32),
        act_cfg=dict(type='ReLU'),
        encoder=None,
        positional_encoding=dict(
            type='SinePositionalEncoding', num_feats=128, normalize=True
        ),
        init_cfg=None,
    ):
        super().__init__(
            in_channels,
            feat_channels,
            out_channels,
            norm_cfg,
            act_cfg,
            init_cfg=init_cfg,
        )
        self.last_feat_conv = None
        self.encoder = build_transformer_layer_sequence(encoder)
        self.encoder_embed_dims = self.encoder.embed_dims
        check_arg(
            self.encoder_embed_dims == feat_channels,
            'TransformerEncoderPixelDecoder',
            f'encoder embed_dims {self.encoder_embed_dims} must equal '
            f'feat_channels {feat_channels}',
        )
        self.positional_encoding = build_positional_encoding(
            positional_encoding
        )
        self.encoder_in_proj = Conv2d(
            in_channels[-1], feat_channels, kernel_size=1
        )
        self.encoder_out_proj = ConvModule(
            feat_channels,
            feat_channels,
            3,
            padding=1,
            bias=self.use_bias,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
        )

    def init_weights(self):
        super().init_weights()
        caffe2_xavier_init(self.encoder_in_proj, bias=0)
        caffe2_xavier_init(self.encoder_out_proj.conv, bias=0)
        for p in self.encoder.parameters():
            if p.dim() > 1:
                torch.nn.init.xavier_uniform_(p)

    def forward(self, feats, img_metas):
        last = feats[-1]
        bs, _, h, w = last.shape
        padding = padding_mask_at(img_metas, (h, w), last.device)
        pos = self.positional_encoding(padding).flatten(2).permute(2, 0, 1)
        tokens = self.encoder_in_proj(last).flatten(2).permute(2, 0, 1)
        memory = self.encoder(
            query=tokens,
            key=None,
            value=None,
            query_pos=pos,
            query_key_padding_mask=padding.flatten(1),
        )
        memory = memory.permute(1, 2, 0).reshape(bs, -1, h, w)
        y = self.encoder_out_proj(memory)
        return self._top_down(y, feats), memory
