"""MMDetection 2.x's transformer parts: DETR's and Deformable DETR's
encoder/decoder/transformer and Sparse R-CNN's ``DynamicConv``.

Layers and sequences are built by mmcv (``BaseTransformerLayer``,
``TransformerLayerSequence``, ``MultiheadAttention``, ``FFN``); this module
adds the classes MMDetection's configs name, registered where MMDetection
registers them (mmcv's ``TRANSFORMER_LAYER`` / ``TRANSFORMER_LAYER_SEQUENCE``
and MMDetection's ``TRANSFORMER``), so that the state-dict keys
(``encoder.layers.N.attentions.M.attn.in_proj_weight``...) are MMDetection's.
Sequences take and return ``(num_tokens, bs, embed_dims)`` tensors.
"""

import torch
import torch.nn as nn
from mmcv.cnn import build_activation_layer, build_norm_layer, xavier_init
from mmcv.cnn.bricks.registry import (
    TRANSFORMER_LAYER,
    TRANSFORMER_LAYER_SEQUENCE,
)
from mmcv.cnn.bricks.transformer import (
    BaseTransformerLayer,
    TransformerLayerSequence,
    build_transformer_layer_sequence,
)
from mmcv.runner import BaseModule

from mmdet.utils.arg_errors import check_arg
from .builder import TRANSFORMER
from .ms_deform_attn import MultiScaleDeformableAttention


def nlc_to_nchw(x, hw_shape):
    """``(B, H*W, C)`` tokens -> ``(B, C, H, W)`` map."""
    h, w = hw_shape
    b, length, c = x.shape
    check_arg(length == h * w, 'nlc_to_nchw', f'{length} tokens != {h}*{w}')
    return x.transpose(1, 2).reshape(b, c, h, w).contiguous()


def nchw_to_nlc(x):
    """``(B, C, H, W)`` map -> ``(B, H*W, C)`` tokens."""
    return x.flatten(2).transpose(1, 2).contiguous()


def inverse_sigmoid(x, eps=1e-5):
    """``log(x / (1 - x))`` with ``x`` clamped to [0, 1] and both terms
    to at least ``eps``."""
    x = x.clamp(min=0, max=1)
    return torch.log(x.clamp(min=eps) / (1 - x).clamp(min=eps))


@TRANSFORMER_LAYER.register_module()
class DetrTransformerDecoderLayer(BaseTransformerLayer):
    """``BaseTransformerLayer`` with DETR's defaults (ReLU FFN, LayerNorm)
    and an ``operation_order`` of six steps made of self attention, cross
    attention, norms and an FFN."""

    def __init__(
        self,
        attn_cfgs,
        feedforward_channels,
        ffn_dropout=0.0,
        operation_order=None,
        act_cfg=dict(type='ReLU', inplace=True),
        norm_cfg=dict(type='LN'),
        ffn_num_fcs=2,
        **kwargs,
    ):
        super().__init__(
            attn_cfgs=attn_cfgs,
            feedforward_channels=feedforward_channels,
            ffn_dropout=ffn_dropout,
            operation_order=operation_order,
            act_cfg=act_cfg,
            norm_cfg=norm_cfg,
            ffn_num_fcs=ffn_num_fcs,
            **kwargs,
        )
        check_arg(
            len(operation_order) == 6
            and set(operation_order)
            == {'self_attn', 'norm', 'cross_attn', 'ffn'},
            type(self).__name__,
            'operation_order must have 6 steps of self_attn, norm, '
            f'cross_attn and ffn, got {operation_order}',
        )


@TRANSFORMER_LAYER_SEQUENCE.register_module()
class DetrTransformerEncoder(TransformerLayerSequence):
    """Layer sequence; with pre-norm layers a final ``post_norm``."""

    def __init__(self, *args, post_norm_cfg=dict(type='LN'), **kwargs):
        super().__init__(*args, **kwargs)
        check_arg(
            post_norm_cfg is not None or not self.pre_norm,
            type(self).__name__,
            'pre-norm layers need a post_norm_cfg',
        )
        self.post_norm = None
        if post_norm_cfg is not None and self.pre_norm:
            self.post_norm = build_norm_layer(post_norm_cfg, self.embed_dims)[
                1
            ]

    def forward(self, *args, **kwargs):
        x = super().forward(*args, **kwargs)
        return x if self.post_norm is None else self.post_norm(x)


@TRANSFORMER_LAYER_SEQUENCE.register_module()
class DetrTransformerDecoder(TransformerLayerSequence):
    """Layer sequence with a final ``post_norm``; returns ``(num_layers,
    num_query, bs, C)`` (every layer's normalised output) when
    ``return_intermediate``, else ``(1, num_query, bs, C)``."""

    def __init__(
        self,
        *args,
        post_norm_cfg=dict(type='LN'),
        return_intermediate=False,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.return_intermediate = return_intermediate
        self.post_norm = None
        if post_norm_cfg is not None:
            self.post_norm = build_norm_layer(post_norm_cfg, self.embed_dims)[
                1
            ]

    def _normed(self, x):
        return x if self.post_norm is None else self.post_norm(x)

    def forward(self, query, *args, **kwargs):
        if not self.return_intermediate:
            x = super().forward(query, *args, **kwargs)
            return self._normed(x)[None]
        outs = []
        for layer in self.layers:
            query = layer(query, *args, **kwargs)
            outs.append(self._normed(query))
        return torch.stack(outs)


@TRANSFORMER.register_module()
class Transformer(BaseModule):
    """DETR's encoder-decoder; positional encodings enter every attention.

    ``forward(x, mask, query_embed, pos_embed)``: ``x`` and ``pos_embed``
    ``(bs, C, h, w)``, ``mask`` ``(bs, h, w)`` True where padded,
    ``query_embed`` ``(num_query, C)``. Returns the decoder output
    ``(num_dec_layers or 1, bs, num_query, C)`` and the encoder memory
    ``(bs, C, h, w)``.
    """

    def __init__(self, encoder=None, decoder=None, init_cfg=None):
        super().__init__(init_cfg)
        self.encoder = build_transformer_layer_sequence(encoder)
        self.decoder = build_transformer_layer_sequence(decoder)
        self.embed_dims = self.encoder.embed_dims

    def init_weights(self):
        """Xavier-uniform weights of every matrix, as DETR does."""
        for m in self.modules():
            if hasattr(m, 'weight') and m.weight.dim() > 1:
                xavier_init(m, distribution='uniform')
        self._is_init = True

    def forward(self, x, mask, query_embed, pos_embed):
        bs, c, h, w = x.shape
        x = x.view(bs, c, -1).permute(2, 0, 1)
        pos_embed = pos_embed.view(bs, c, -1).permute(2, 0, 1)
        query_embed = query_embed.unsqueeze(1).repeat(1, bs, 1)
        mask = mask.view(bs, -1)
        memory = self.encoder(
            query=x,
            key=None,
            value=None,
            query_pos=pos_embed,
            query_key_padding_mask=mask,
        )
        out_dec = self.decoder(
            query=torch.zeros_like(query_embed),
            key=memory,
            value=memory,
            key_pos=pos_embed,
            query_pos=query_embed,
            key_padding_mask=mask,
        )
        memory = memory.permute(1, 2, 0).reshape(bs, c, h, w)
        return out_dec.transpose(1, 2), memory


def _refine(reference_points, delta):
    """Reference points after a regression branch's ``delta`` (logits):
    all 4 box terms, or the centre only for 2-d points."""
    if reference_points.shape[-1] == 4:
        return (delta + inverse_sigmoid(reference_points)).sigmoid()
    centre = delta[..., :2] + inverse_sigmoid(reference_points)
    return torch.cat([centre, delta[..., 2:]], -1).sigmoid()


@TRANSFORMER_LAYER_SEQUENCE.register_module()
class DeformableDetrTransformerDecoder(TransformerLayerSequence):
    """Deformable DETR's decoder: each layer samples around the reference
    points (scaled to each level's valid area); with ``reg_branches`` the
    points are refined after every layer (not back-propagated through).

    Returns ``(output, reference_points)``; stacked over the layers when
    ``return_intermediate``.
    """

    def __init__(self, *args, return_intermediate=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.return_intermediate = return_intermediate

    def forward(
        self,
        query,
        *args,
        reference_points=None,
        valid_ratios=None,
        reg_branches=None,
        **kwargs,
    ):
        """``query`` ``(num_query, bs, C)``; ``reference_points`` ``(bs,
        num_query, 2 or 4)`` in [0, 1]; ``valid_ratios`` ``(bs, num_levels,
        2)``."""
        check_arg(
            reference_points.shape[-1] in (2, 4),
            type(self).__name__,
            'reference_points must end with 2 or 4 values',
        )
        output = query
        outputs, references = [], []
        for lid, layer in enumerate(self.layers):
            ratios = valid_ratios
            if reference_points.shape[-1] == 4:
                ratios = torch.cat([valid_ratios, valid_ratios], -1)
            output = layer(
                output,
                *args,
                reference_points=reference_points[:, :, None]
                * ratios[:, None],
                **kwargs,
            )
            if reg_branches is not None:
                delta = reg_branches[lid](output.permute(1, 0, 2))
                reference_points = _refine(reference_points, delta).detach()
            if self.return_intermediate:
                outputs.append(output)
                references.append(reference_points)
        if self.return_intermediate:
            return torch.stack(outputs), torch.stack(references)
        return output, reference_points


@TRANSFORMER.register_module()
class DeformableDetrTransformer(Transformer):
    """Deformable DETR's transformer over ``num_feature_levels`` maps.

    Parameters beyond ``Transformer``'s: ``level_embeds`` (added to each
    level's positional encoding) and ``reference_points`` (queries' initial
    points), or for ``as_two_stage`` ``enc_output(_norm)`` and
    ``pos_trans(_norm)`` (queries from the encoder's top proposals).
    """

    def __init__(
        self,
        as_two_stage=False,
        num_feature_levels=4,
        two_stage_num_proposals=300,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.as_two_stage = as_two_stage
        self.num_feature_levels = num_feature_levels
        self.two_stage_num_proposals = two_stage_num_proposals
        self.embed_dims = self.encoder.embed_dims
        self.init_layers()

    def init_layers(self):
        c = self.embed_dims
        # init_weights draws it again; never leave memory uninitialised
        self.level_embeds = nn.Parameter(
            torch.randn(self.num_feature_levels, c)
        )
        if self.as_two_stage:
            self.enc_output = nn.Linear(c, c)
            self.enc_output_norm = nn.LayerNorm(c)
            self.pos_trans = nn.Linear(c * 2, c * 2)
            self.pos_trans_norm = nn.LayerNorm(c * 2)
        else:
            self.reference_points = nn.Linear(c, 2)

    def init_weights(self):
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        for m in self.modules():
            if isinstance(m, MultiScaleDeformableAttention):
                m.init_weights()
        if not self.as_two_stage:
            xavier_init(self.reference_points, distribution='uniform', bias=0)
        nn.init.normal_(self.level_embeds)
        self._is_init = True

    def gen_encoder_output_proposals(
        self, memory, memory_padding_mask, spatial_shapes
    ):
        """Per token a proposal (cx, cy, w, h) as logits: its cell centre
        in the valid area, size ``0.05 * 2**level``; ``inf`` where padded or
        too close to the border. Returns ``(enc_output_norm(enc_output(
        memory masked to 0 there)), proposals)``, ``(bs, num_key, C)`` and
        ``(bs, num_key, 4)``."""
        n = memory.shape[0]
        proposals, start = [], 0
        # h, w: the shape tensor's values (an ONNX graph keeps them free)
        for lvl, (h, w) in enumerate(spatial_shapes):
            pad = memory_padding_mask[:, start : start + h * w].view(n, h, w)
            valid_h = (~pad[:, :, 0]).sum(1)
            valid_w = (~pad[:, 0, :]).sum(1)
            ys, xs = torch.meshgrid(
                torch.arange(h, dtype=memory.dtype, device=memory.device),
                torch.arange(w, dtype=memory.dtype, device=memory.device),
                indexing='ij',
            )
            grid = torch.stack([xs, ys], -1)[None] + 0.5
            scale = torch.stack([valid_w, valid_h], -1).view(n, 1, 1, 2)
            grid = grid / scale
            wh = torch.full_like(grid, 0.05 * 2.0**lvl)
            proposals.append(torch.cat([grid, wh], -1).view(n, -1, 4))
            start += h * w
        proposals = torch.cat(proposals, 1)
        valid = ((proposals > 0.01) & (proposals < 0.99)).all(-1, keepdim=True)
        invalid = memory_padding_mask.unsqueeze(-1) | ~valid
        proposals = torch.log(proposals / (1 - proposals))
        proposals = proposals.masked_fill(invalid, float('inf'))
        memory = memory.masked_fill(invalid, 0.0)
        return self.enc_output_norm(self.enc_output(memory)), proposals

    @staticmethod
    def get_reference_points(spatial_shapes, valid_ratios, device):
        """``(bs, num_keys, num_levels, 2)``: every cell centre of every
        level, normalised by its level's valid area, then scaled to each
        level's valid area."""
        points = []
        for lvl, (h, w) in enumerate(spatial_shapes):
            # the cell centres 0.5, 1.5, ... (exact in float32); from the
            # shape tensor's values, which an ONNX graph keeps free
            ys, xs = torch.meshgrid(
                torch.arange(h, device=device).float() + 0.5,
                torch.arange(w, device=device).float() + 0.5,
                indexing='ij',
            )
            ys = ys.reshape(-1)[None] / (valid_ratios[:, None, lvl, 1] * h)
            xs = xs.reshape(-1)[None] / (valid_ratios[:, None, lvl, 0] * w)
            points.append(torch.stack((xs, ys), -1))
        points = torch.cat(points, 1)
        return points[:, :, None] * valid_ratios[:, None]

    def get_valid_ratio(self, mask):
        """``(bs, 2)``: unpadded fraction (w, h) of a ``(bs, H, W)`` mask."""
        _, h, w = mask.shape
        valid_h = (~mask[:, :, 0]).sum(1).float() / h
        valid_w = (~mask[:, 0, :]).sum(1).float() / w
        return torch.stack([valid_w, valid_h], -1)

    def get_proposal_pos_embed(
        self, proposals, num_pos_feats=128, temperature=10000
    ):
        """Sine embedding of ``sigmoid(proposals) * 2 pi``: ``(N, L, 4)`` ->
        ``(N, L, 4 * num_pos_feats)``."""
        dim_t = torch.arange(
            num_pos_feats, dtype=torch.float32, device=proposals.device
        )
        dim_t = temperature ** (2 * (dim_t // 2) / num_pos_feats)
        pos = proposals.sigmoid()[..., None] * (2 * torch.pi) / dim_t
        pos = torch.stack((pos[..., 0::2].sin(), pos[..., 1::2].cos()), 4)
        return pos.flatten(2)

    def _flatten_levels(self, mlvl_feats, mlvl_masks, mlvl_pos_embeds):
        feats, masks, pos = [], [], []
        for lvl, (feat, mask, pos_embed) in enumerate(
            zip(mlvl_feats, mlvl_masks, mlvl_pos_embeds)
        ):
            feats.append(feat.flatten(2).transpose(1, 2))
            masks.append(mask.flatten(1))
            level = self.level_embeds[lvl].view(1, 1, -1)
            pos.append(pos_embed.flatten(2).transpose(1, 2) + level)
        if torch.onnx.is_in_onnx_export():
            # the traced sizes, not the example's numbers
            shapes = torch.stack(
                [torch._shape_as_tensor(f)[-2:] for f in mlvl_feats]
            ).to(feats[0].device)
        else:
            shapes = torch.as_tensor(
                [f.shape[-2:] for f in mlvl_feats],
                dtype=torch.long,
                device=feats[0].device,
            )
        return (
            torch.cat(feats, 1),
            torch.cat(masks, 1),
            torch.cat(pos, 1),
            shapes,
        )

    def _two_stage_queries(
        self, memory, mask, shapes, reg_branches, cls_branches
    ):
        output_memory, proposals = self.gen_encoder_output_proposals(
            memory, mask, shapes
        )
        n = self.decoder.num_layers
        enc_class = cls_branches[n](output_memory)
        enc_coord = reg_branches[n](output_memory) + proposals
        # the first class channel scores "object" (DeformableDETRHead)
        topk = torch.topk(enc_class[..., 0], self.two_stage_num_proposals, 1)
        index = topk[1].unsqueeze(-1).repeat(1, 1, 4)
        coords = torch.gather(enc_coord, 1, index).detach()
        pos_trans = self.pos_trans(self.get_proposal_pos_embed(coords))
        query_pos, query = torch.split(
            self.pos_trans_norm(pos_trans), memory.shape[-1], dim=2
        )
        return query_pos, query, coords.sigmoid(), enc_class, enc_coord

    def forward(
        self,
        mlvl_feats,
        mlvl_masks,
        query_embed,
        mlvl_pos_embeds,
        reg_branches=None,
        cls_branches=None,
        **kwargs,
    ):
        """Levels' ``(bs, C, h, w)`` features, ``(bs, h, w)`` masks (True
        where padded) and positional encodings; ``query_embed`` ``(num_query,
        2C)`` (position, content). Returns ``(inter_states, init_reference,
        inter_references, enc_outputs_class, enc_outputs_coord_unact)``, the
        last two None unless ``as_two_stage``."""
        check_arg(
            self.as_two_stage or query_embed is not None,
            type(self).__name__,
            'query_embed is required unless as_two_stage',
        )
        feat, mask, pos, shapes = self._flatten_levels(
            mlvl_feats, mlvl_masks, mlvl_pos_embeds
        )
        level_start_index = torch.cat(
            (shapes.new_zeros((1,)), shapes.prod(1).cumsum(0)[:-1])
        )
        valid_ratios = torch.stack(
            [self.get_valid_ratio(m) for m in mlvl_masks], 1
        )
        geometry = dict(
            spatial_shapes=shapes,
            level_start_index=level_start_index,
            valid_ratios=valid_ratios,
        )
        memory = self.encoder(
            query=feat.permute(1, 0, 2),
            key=None,
            value=None,
            query_pos=pos.permute(1, 0, 2),
            query_key_padding_mask=mask,
            reference_points=self.get_reference_points(
                shapes, valid_ratios, feat.device
            ),
            **geometry,
            **kwargs,
        ).permute(1, 0, 2)
        bs, _, c = memory.shape
        enc_class = enc_coord = None
        if self.as_two_stage:
            query_pos, query, reference, enc_class, enc_coord = (
                self._two_stage_queries(
                    memory, mask, shapes, reg_branches, cls_branches
                )
            )
        else:
            query_pos, query = torch.split(query_embed, c, dim=1)
            query_pos = query_pos.unsqueeze(0).expand(bs, -1, -1)
            query = query.unsqueeze(0).expand(bs, -1, -1)
            reference = self.reference_points(query_pos).sigmoid()
        inter_states, inter_references = self.decoder(
            query=query.permute(1, 0, 2),
            key=None,
            value=memory.permute(1, 0, 2),
            query_pos=query_pos.permute(1, 0, 2),
            key_padding_mask=mask,
            reference_points=reference,
            reg_branches=reg_branches,
            **geometry,
            **kwargs,
        )
        return inter_states, reference, inter_references, enc_class, enc_coord


@TRANSFORMER.register_module()
class DynamicConv(BaseModule):
    """Sparse R-CNN's instance interaction: two 1x1 convs whose weights are
    generated per proposal from its feature (``dynamic_layer``), each
    followed by LayerNorm and activation, then optionally a linear
    projection of the flattened ``input_feat_shape**2`` map.

    ``forward(param_feature, input_feature)``: ``(N, in_channels)`` and
    ``(N, in_channels, S, S)`` -> ``(N, out_channels)`` with ``with_proj``,
    else ``(N, S*S, out_channels)``.
    """

    def __init__(
        self,
        in_channels=256,
        feat_channels=64,
        out_channels=None,
        input_feat_shape=7,
        with_proj=True,
        act_cfg=dict(type='ReLU', inplace=True),
        norm_cfg=dict(type='LN'),
        init_cfg=None,
    ):
        super().__init__(init_cfg)
        self.in_channels = in_channels
        self.feat_channels = feat_channels
        self.out_channels_raw = out_channels
        self.input_feat_shape = input_feat_shape
        self.with_proj = with_proj
        self.act_cfg = act_cfg
        self.norm_cfg = norm_cfg
        self.out_channels = out_channels if out_channels else in_channels
        self.num_params_in = self.in_channels * self.feat_channels
        self.num_params_out = self.out_channels * self.feat_channels
        self.dynamic_layer = nn.Linear(
            self.in_channels, self.num_params_in + self.num_params_out
        )
        self.norm_in = build_norm_layer(norm_cfg, self.feat_channels)[1]
        self.norm_out = build_norm_layer(norm_cfg, self.out_channels)[1]
        self.activation = build_activation_layer(act_cfg)
        if self.with_proj:
            num_output = self.out_channels * input_feat_shape**2
            self.fc_layer = nn.Linear(num_output, self.out_channels)
            self.fc_norm = build_norm_layer(norm_cfg, self.out_channels)[1]

    def forward(self, param_feature, input_feature):
        x = input_feature.flatten(2).transpose(1, 2)  # (N, S*S, in)
        params = self.dynamic_layer(param_feature)
        param_in = params[:, : self.num_params_in].view(
            -1, self.in_channels, self.feat_channels
        )
        param_out = params[:, -self.num_params_out :].view(
            -1, self.feat_channels, self.out_channels
        )
        x = self.activation(self.norm_in(torch.bmm(x, param_in)))
        x = self.activation(self.norm_out(torch.bmm(x, param_out)))
        if self.with_proj:
            x = self.activation(self.fc_norm(self.fc_layer(x.flatten(1))))
        return x
