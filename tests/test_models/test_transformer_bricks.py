"""MMDetection's transformer bricks: multi-scale deformable attention
against bilinear sampling written out in float64 (and gradcheck), the
positional encodings against their formulas, DETR's and Deformable DETR's
transformers and Sparse R-CNN's DynamicConv built from MMDetection's
configs against MMDetection 2.28.2's state-dict keys and shapes."""

import copy
import gzip
import json
import math
import os.path as osp

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn.bricks.registry import ATTENTION
from mmcv.cnn.bricks.transformer import (
    build_attention,
    build_positional_encoding,
)

from mmdet.models.utils import (
    MultiScaleDeformableAttention,
    build_transformer,
    multi_scale_deformable_attn_pytorch,
)
from mmdet.utils.arg_errors import InvalidArgumentError

ROOT = osp.dirname(osp.dirname(osp.dirname(__file__)))
REFERENCE = osp.join(
    ROOT, 'tests', 'data', 'reference', 'mmdet228_configs.json.gz'
)


def reference_part(config, prefix):
    with gzip.open(REFERENCE, 'rt') as f:
        state = json.load(f)[config]['state_dict']
    return {
        k[len(prefix) :]: list(v)
        for k, v in state.items()
        if k.startswith(prefix)
    }


def shapes(module):
    return {k: list(v.shape) for k, v in module.state_dict().items()}


# ---------------------------------------------------------------------------
# multi-scale deformable attention


def bilinear_zero_padded(image, x, y):
    """``image`` (C, H, W) at (x, y) in [0, 1] of its extent (pixel centres
    at (j + 0.5) / W), neighbours outside the image read 0."""
    _, h, w = image.shape
    px, py = x * w - 0.5, y * h - 0.5
    x0, y0 = math.floor(px), math.floor(py)
    out = torch.zeros(image.shape[0], dtype=image.dtype)
    for yi in (y0, y0 + 1):
        for xi in (x0, x0 + 1):
            if 0 <= yi < h and 0 <= xi < w:
                weight = (1 - abs(px - xi)) * (1 - abs(py - yi))
                out += weight * image[:, yi, xi]
    return out


def deformable_attention_formula(value, shapes_hw, locations, weights):
    bs, _, heads, dims = value.shape
    _, queries, _, levels, points, _ = locations.shape
    starts = [0]
    for h, w in shapes_hw:
        starts.append(starts[-1] + h * w)
    out = torch.zeros(bs, queries, heads * dims, dtype=value.dtype)
    for b in range(bs):
        for q in range(queries):
            for m in range(heads):
                acc = torch.zeros(dims, dtype=value.dtype)
                for lvl, (h, w) in enumerate(shapes_hw):
                    tokens = value[b, starts[lvl] : starts[lvl + 1], m]
                    image = tokens.t().reshape(dims, h, w)
                    for p in range(points):
                        x, y = locations[b, q, m, lvl, p].tolist()
                        sample = bilinear_zero_padded(image, x, y)
                        acc += weights[b, q, m, lvl, p] * sample
                out[b, q, m * dims : (m + 1) * dims] = acc
    return out


def random_msda_inputs(requires_grad=False):
    torch.manual_seed(0)
    shapes_hw = [(3, 4), (2, 2)]
    keys = sum(h * w for h, w in shapes_hw)
    value = torch.randn(2, keys, 2, 3, dtype=torch.float64)
    # inside and outside [0, 1]: partly and wholly outside samples
    locations = torch.rand(2, 4, 2, 2, 3, 2, dtype=torch.float64) * 1.6 - 0.3
    weights = torch.rand(2, 4, 2, 2, 3, dtype=torch.float64)
    inputs = [value, locations, weights]
    for t in inputs:
        t.requires_grad_(requires_grad)
    return shapes_hw, inputs


def test_deformable_attention_core_equals_bilinear_formula():
    shapes_hw, (value, locations, weights) = random_msda_inputs()
    assert ((locations < 0) | (locations > 1)).any()
    out = multi_scale_deformable_attn_pytorch(
        value, torch.tensor(shapes_hw), locations, weights
    )
    expected = deformable_attention_formula(
        value, shapes_hw, locations, weights
    )
    assert torch.allclose(out, expected, atol=1e-12)


def test_deformable_attention_core_gradients():
    shapes_hw, inputs = random_msda_inputs(requires_grad=True)
    spatial = torch.tensor(shapes_hw)

    def core(value, locations, weights):
        return multi_scale_deformable_attn_pytorch(
            value, spatial, locations, weights
        )

    assert torch.autograd.gradcheck(core, inputs)
    # and the gradient is the formula's
    value, locations, weights = inputs
    grads = torch.autograd.grad(core(*inputs).sum(), [value, weights])
    expected = torch.autograd.grad(
        deformable_attention_formula(
            value, shapes_hw, locations.detach(), weights
        ).sum(),
        [value, weights],
    )
    for got, want in zip(grads, expected):
        assert torch.allclose(got, want, atol=1e-12)


def identity_msda(**kwargs):
    attn = MultiScaleDeformableAttention(
        embed_dims=4,
        num_heads=1,
        num_levels=1,
        num_points=1,
        dropout=0.0,
        **kwargs,
    )
    for proj in (attn.value_proj, attn.output_proj):
        nn.init.eye_(proj.weight)
        nn.init.zeros_(proj.bias)
    return attn


def test_deformable_attention_offsets_are_pixels_of_each_level():
    attn = identity_msda(batch_first=True)
    with torch.no_grad():
        attn.sampling_offsets.bias.copy_(torch.tensor([1.0, 0.0]))
    h, w = 3, 5
    value = torch.randn(1, h * w, 4)
    # a query at the centre of pixel (row 1, column 2) samples (1, 3)
    ref = torch.tensor([[[[2.5 / w, 1.5 / h]]]])
    query = torch.zeros(1, 1, 4)
    out = attn(
        query,
        value=value,
        reference_points=ref,
        spatial_shapes=torch.tensor([[h, w]]),
        level_start_index=torch.tensor([0]),
    )
    assert torch.allclose(out[0, 0], value[0, 1 * w + 3], atol=1e-6)


def test_deformable_attention_batch_first_and_padding():
    torch.manual_seed(0)
    attn = MultiScaleDeformableAttention(
        embed_dims=8, num_heads=2, num_levels=2, num_points=2, dropout=0.0
    )
    nn.init.normal_(attn.sampling_offsets.weight, std=0.3)
    nn.init.normal_(attn.attention_weights.weight)
    spatial = torch.tensor([[4, 4], [2, 2]])
    query = torch.randn(5, 2, 8)
    value = torch.randn(20, 2, 8)
    pad = torch.zeros(2, 20, dtype=torch.bool)
    pad[:, 3] = pad[:, 17] = True
    ref = torch.rand(2, 5, 2, 4)
    args = dict(
        reference_points=ref,
        spatial_shapes=spatial,
        level_start_index=torch.tensor([0, 16]),
        key_padding_mask=pad,
    )
    out = attn(query, value=value, **args)
    assert out.shape == (5, 2, 8)
    other = value.clone()
    other[[3, 17]] = 100.0
    assert torch.allclose(attn(query, value=other, **args), out, atol=1e-6)
    attn.batch_first = True
    out_bf = attn(query.transpose(0, 1), value=value.transpose(0, 1), **args)
    assert torch.allclose(out_bf.transpose(0, 1), out, atol=1e-6)


def test_deformable_attention_registry_and_init():
    assert ATTENTION.get('MultiScaleDeformableAttention') is (
        MultiScaleDeformableAttention
    )
    attn = build_attention(
        dict(
            type='MultiScaleDeformableAttention', embed_dims=16, im2col_step=7
        )
    )
    assert sorted(n for n, _ in attn.named_children()) == [
        'attention_weights',
        'dropout',
        'output_proj',
        'sampling_offsets',
        'value_proj',
    ]
    bias = attn.sampling_offsets.bias.view(8, 4, 4, 2)
    # head 0 looks right, head 2 down, at 1, 2, 3, 4 pixels
    steps = torch.arange(1.0, 5.0)
    assert torch.allclose(bias[0, 2, :, 0], steps)
    assert torch.allclose(bias[2, 1, :, 1], steps)
    assert torch.allclose(bias[2, 1, :, 0], torch.zeros(4), atol=1e-6)
    with pytest.raises(InvalidArgumentError):
        MultiScaleDeformableAttention(embed_dims=10, num_heads=4)


# ---------------------------------------------------------------------------
# positional encodings


def sine_formula(mask, num_feats, temperature, normalize, scale, eps, offset):
    bs, h, w = mask.shape
    valid = (~mask).double()
    out = torch.zeros(bs, 2 * num_feats, h, w, dtype=torch.float64)
    for b in range(bs):
        for i in range(h):
            for j in range(w):
                y = valid[b, : i + 1, j].sum()
                x = valid[b, i, : j + 1].sum()
                if normalize:
                    y = (y + offset) / (valid[b, :, j].sum() + eps) * scale
                    x = (x + offset) / (valid[b, i, :].sum() + eps) * scale
                for k in range(num_feats):
                    period = temperature ** (2 * (k // 2) / num_feats)
                    fn = math.sin if k % 2 == 0 else math.cos
                    out[b, k, i, j] = fn(y / period)
                    out[b, num_feats + k, i, j] = fn(x / period)
    return out


@pytest.mark.parametrize(
    'normalize, offset, temperature', [(False, 0.0, 10000), (True, -0.5, 20)]
)
def test_sine_positional_encoding_formula(normalize, offset, temperature):
    mask = torch.zeros(2, 4, 5, dtype=torch.bool)
    mask[0, 3:, :] = True
    mask[1, :, 3:] = True
    cfg = dict(
        num_feats=6,
        temperature=temperature,
        normalize=normalize,
        offset=offset,
    )
    enc = build_positional_encoding(dict(type='SinePositionalEncoding', **cfg))
    expected = sine_formula(
        mask, 6, temperature, normalize, 2 * math.pi, 1e-6, offset
    )
    # compared where the image is: in a wholly padded row the normalised
    # position is offset / eps, an argument float32 cannot resolve
    valid = ~mask[:, None].expand_as(expected)
    got = enc(mask).double()
    assert torch.allclose(got[valid], expected[valid], atol=1e-5)


def test_learned_positional_encoding():
    enc = build_positional_encoding(
        dict(type='LearnedPositionalEncoding', num_feats=3, row_num_embed=6)
    )
    enc.init_weights()
    pos = enc(torch.zeros(2, 4, 5, dtype=torch.bool))
    assert pos.shape == (2, 6, 4, 5)
    for i in range(4):
        for j in range(5):
            assert torch.equal(pos[1, :3, i, j], enc.col_embed.weight[j])
            assert torch.equal(pos[1, 3:, i, j], enc.row_embed.weight[i])
    assert sorted(enc.state_dict()) == ['col_embed.weight', 'row_embed.weight']


# ---------------------------------------------------------------------------
# transformers from MMDetection's configs

MHA = dict(type='MultiheadAttention', embed_dims=256, num_heads=8, dropout=0.1)
DECODER_ORDER = ('self_attn', 'norm', 'cross_attn', 'norm', 'ffn', 'norm')
ENCODER_ORDER = ('self_attn', 'norm', 'ffn', 'norm')

# detr/detr_r50_8x2_150e_coco.py's bbox_head.transformer
DETR_TRANSFORMER = dict(
    type='Transformer',
    encoder=dict(
        type='DetrTransformerEncoder',
        num_layers=6,
        transformerlayers=dict(
            type='BaseTransformerLayer',
            attn_cfgs=[MHA],
            feedforward_channels=2048,
            ffn_dropout=0.1,
            operation_order=ENCODER_ORDER,
        ),
    ),
    decoder=dict(
        type='DetrTransformerDecoder',
        return_intermediate=True,
        num_layers=6,
        transformerlayers=dict(
            type='DetrTransformerDecoderLayer',
            attn_cfgs=MHA,
            feedforward_channels=2048,
            ffn_dropout=0.1,
            operation_order=DECODER_ORDER,
        ),
    ),
)

# deformable_detr/deformable_detr_r50_16x2_50e_coco.py's bbox_head.transformer
MSDA = dict(type='MultiScaleDeformableAttention', embed_dims=256)
DEFORMABLE_TRANSFORMER = dict(
    type='DeformableDetrTransformer',
    encoder=dict(
        type='DetrTransformerEncoder',
        num_layers=6,
        transformerlayers=dict(
            type='BaseTransformerLayer',
            attn_cfgs=MSDA,
            feedforward_channels=1024,
            ffn_dropout=0.1,
            operation_order=ENCODER_ORDER,
        ),
    ),
    decoder=dict(
        type='DeformableDetrTransformerDecoder',
        num_layers=6,
        return_intermediate=True,
        transformerlayers=dict(
            type='DetrTransformerDecoderLayer',
            attn_cfgs=[MHA, MSDA],
            feedforward_channels=1024,
            ffn_dropout=0.1,
            operation_order=DECODER_ORDER,
        ),
    ),
)


def test_detr_transformer_matches_mmdetection_and_masks_padding():
    torch.manual_seed(0)
    transformer = build_transformer(copy.deepcopy(DETR_TRANSFORMER))
    expected = reference_part(
        'detr/detr_r50_8x2_150e_coco.py', 'bbox_head.transformer.'
    )
    assert shapes(transformer) == expected
    transformer.init_weights()
    transformer.eval()
    x = torch.randn(2, 256, 3, 4)
    mask = torch.zeros(2, 3, 4, dtype=torch.bool)
    mask[1, :, 3:] = True
    pos = build_positional_encoding(
        dict(type='SinePositionalEncoding', num_feats=128, normalize=True)
    )(mask)
    query = torch.randn(5, 256)
    out, memory = transformer(x, mask, query, pos)
    assert out.shape == (6, 2, 5, 256) and memory.shape == (2, 256, 3, 4)
    x2 = x.clone()
    x2[1, :, :, 3:] = 50.0
    out2, memory2 = transformer(x2, mask, query, pos)
    assert torch.allclose(out2, out, atol=1e-4)
    assert torch.allclose(memory2[..., :3], memory[..., :3], atol=1e-4)


def deformable_inputs():
    torch.manual_seed(0)
    sizes = [(6, 8), (3, 4), (2, 2), (1, 1)]
    feats = [torch.randn(2, 256, h, w) for h, w in sizes]
    masks = [torch.zeros(2, h, w, dtype=torch.bool) for h, w in sizes]
    masks[0][1, :, 6:] = True
    masks[1][1, :, 3:] = True
    pe = build_positional_encoding(
        dict(
            type='SinePositionalEncoding',
            num_feats=128,
            normalize=True,
            offset=-0.5,
        )
    )
    return feats, masks, [pe(m) for m in masks]


@pytest.mark.parametrize(
    'config, two_stage',
    [
        ('deformable_detr/deformable_detr_refine_r50_16x2_50e_coco.py', False),
        (
            'deformable_detr/deformable_detr_twostage_refine_r50_16x2_50e_coco.py',  # noqa: E501
            True,
        ),
    ],
)
def test_deformable_detr_transformer_matches_mmdetection(config, two_stage):
    cfg = copy.deepcopy(DEFORMABLE_TRANSFORMER)
    cfg.update(as_two_stage=two_stage, two_stage_num_proposals=7)
    transformer = build_transformer(cfg)
    assert shapes(transformer) == reference_part(
        config, 'bbox_head.transformer.'
    )
    transformer.init_weights()
    transformer.eval()
    feats, masks, pos = deformable_inputs()
    branches = dict(
        reg_branches=nn.ModuleList(nn.Linear(256, 4) for _ in range(7)),
        cls_branches=nn.ModuleList(nn.Linear(256, 3) for _ in range(7)),
    )
    query = None if two_stage else torch.randn(10, 512)
    out = transformer(feats, masks, query, pos, **branches)
    states, init_ref, refs, enc_class, enc_coord = out
    num_query = 7 if two_stage else 10
    assert states.shape == (6, num_query, 2, 256)
    assert init_ref.shape == (2, num_query, 4 if two_stage else 2)
    assert refs.shape == (6, 2, num_query, 4)
    assert ((refs >= 0) & (refs <= 1)).all()
    if two_stage:
        assert enc_class.shape == (2, 48 + 12 + 4 + 1, 3)
        assert enc_coord.shape == (2, 65, 4)
    else:
        assert enc_class is None and enc_coord is None
        # padded features do not reach the decoder
        feats[0][1, :, :, 6:] = 30.0
        feats[1][1, :, :, 3:] = 30.0
        again = transformer(feats, masks, query, pos, **branches)
        assert torch.allclose(again[0], states, atol=1e-4)


def test_deformable_reference_points_are_cell_centres():
    transformer = build_transformer(copy.deepcopy(DEFORMABLE_TRANSFORMER))
    mask = torch.zeros(1, 2, 4, dtype=torch.bool)
    mask[0, :, 2:] = True
    ratios = transformer.get_valid_ratio(mask)
    assert torch.allclose(ratios, torch.tensor([[0.5, 1.0]]))
    points = transformer.get_reference_points(
        torch.tensor([[2, 4]]), ratios[:, None], 'cpu'
    )
    # centres of the valid 2x2 area, scaled back to the padded map
    xs = torch.tensor([0.25, 0.75, 1.25, 1.75]) * 0.5
    assert torch.allclose(points[0, :4, 0, 0], xs)
    assert torch.allclose(points[0, ::4, 0, 1], torch.tensor([0.25, 0.75]))


def test_decoder_layer_and_encoder_arguments_are_checked():
    layer = copy.deepcopy(DETR_TRANSFORMER['decoder']['transformerlayers'])
    layer['operation_order'] = ENCODER_ORDER
    with pytest.raises(InvalidArgumentError):
        build_transformer(
            dict(
                DETR_TRANSFORMER,
                decoder=dict(
                    DETR_TRANSFORMER['decoder'], transformerlayers=layer
                ),
            )
        )
    encoder = copy.deepcopy(DETR_TRANSFORMER['encoder'])
    encoder['transformerlayers']['operation_order'] = (
        'norm',
        'self_attn',
        'norm',
        'ffn',
    )
    with pytest.raises(InvalidArgumentError):
        build_transformer(
            dict(DETR_TRANSFORMER, encoder=dict(encoder, post_norm_cfg=None))
        )
    model = build_transformer(dict(DETR_TRANSFORMER, encoder=encoder))
    assert isinstance(model.encoder.post_norm, nn.LayerNorm)


# sparse_rcnn/sparse_rcnn_r50_fpn_1x_coco.py's dynamic_conv_cfg
DYNAMIC_CONV = dict(
    type='DynamicConv',
    in_channels=256,
    feat_channels=64,
    out_channels=256,
    input_feat_shape=7,
    act_cfg=dict(type='ReLU', inplace=True),
    norm_cfg=dict(type='LN'),
)


def test_dynamic_conv_matches_mmdetection_and_formula():
    conv = build_transformer(dict(DYNAMIC_CONV))
    expected = reference_part(
        'sparse_rcnn/sparse_rcnn_r50_fpn_1x_coco.py',
        'roi_head.bbox_head.0.instance_interactive_conv.',
    )
    assert shapes(conv) == expected
    small = build_transformer(
        dict(
            DYNAMIC_CONV,
            in_channels=6,
            feat_channels=3,
            out_channels=5,
            input_feat_shape=2,
        )
    ).double()
    for norm in (small.norm_in, small.norm_out, small.fc_norm):
        nn.init.normal_(norm.weight)
        nn.init.normal_(norm.bias)
    params = torch.randn(4, 6, dtype=torch.float64)
    feats = torch.randn(4, 6, 2, 2, dtype=torch.float64)
    gen = small.dynamic_layer(params)
    w_in, w_out = gen[:, :18].view(4, 6, 3), gen[:, 18:].view(4, 3, 5)
    x = feats.flatten(2).transpose(1, 2)  # (4, 4 positions, 6)
    x = torch.einsum('npc,ncf->npf', x, w_in)
    x = F.relu(F.layer_norm(x, (3,), small.norm_in.weight, small.norm_in.bias))
    x = torch.einsum('npf,nfo->npo', x, w_out)
    x = F.relu(
        F.layer_norm(x, (5,), small.norm_out.weight, small.norm_out.bias)
    )
    x = F.relu(small.fc_norm(small.fc_layer(x.flatten(1))))
    assert torch.allclose(small(params, feats), x)
