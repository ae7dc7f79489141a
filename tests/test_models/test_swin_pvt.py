"""SwinTransformer and PyramidVisionTransformer(V2): window attention and
its shift mask against the definition of shifted windows, output shapes and
strides, the Swin/PVT checkpoint key conversions against the authors'
layouts written out here, freezing and initialisation."""

import os.path as osp

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv import Config
from mmcv.cnn.bricks.transformer import PatchMerging

from mmdet.models import build_backbone, build_detector
from mmdet.models.backbones.pvt import AbsolutePositionEmbedding
from mmdet.models.backbones.swin import (
    ShiftWindowMSA,
    WindowMSA,
    shifted_window_mask,
)
from mmdet.models.utils import pvt_convert, swin_converter

CONFIGS = osp.join(osp.dirname(osp.dirname(osp.dirname(__file__))), 'configs')
TINY_SWIN = dict(
    type='SwinTransformer',
    embed_dims=16,
    depths=(2, 2, 2, 2),
    num_heads=(1, 2, 2, 4),
    window_size=4,
)


def window_blocks(size, window, shift):
    """Block index of each position along one axis: windows of ``window``
    positions whose borders sit at ``shift + k * window`` (the first and
    last ones cut by the map's edges)."""
    return [(p - shift) // window + (1 if shift else 0) for p in range(size)]


def attention_reach(module, h, w, token):
    """Input tokens whose values reach output ``token``'s value (nonzero
    gradient), as a set of (y, x)."""
    x = torch.randn(1, h * w, module.w_msa.embed_dims, dtype=torch.float64)
    x.requires_grad_(True)
    module(x, (h, w))[0, token].sum().backward()
    reach = x.grad[0].abs().sum(-1) > 1e-20
    return {(i // w, i % w) for i in range(h * w) if reach[i]}


@pytest.mark.parametrize('shift', [0, 2])
@pytest.mark.parametrize('h, w', [(8, 8), (8, 12)])
def test_window_attention_stays_inside_its_window(shift, h, w):
    torch.manual_seed(0)
    module = ShiftWindowMSA(8, 2, window_size=4, shift_size=shift)
    module.double().eval()
    nn.init.normal_(module.w_msa.relative_position_bias_table)
    rows, cols = window_blocks(h, 4, shift), window_blocks(w, 4, shift)
    for token in [0, 5, w + 3, h * w // 2 + 1, h * w - 1]:
        y, x = divmod(token, w)
        expected = {
            (i, j)
            for i in range(h)
            for j in range(w)
            if rows[i] == rows[y] and cols[j] == cols[x]
        }
        assert attention_reach(module, h, w, token) == expected


def test_shift_mask_blocks_only_pairs_from_different_regions():
    mask = shifted_window_mask(8, 8, 4, 2)
    assert mask.shape == (4, 16, 16)
    # the top-left window of the rolled map holds one region only
    assert (mask[0] == 0).all()
    # the bottom-right one joins 4 regions of 2x2 tokens each
    half = torch.tensor([0, 0, 1, 1])
    region = (half[:, None] * 2 + half[None, :]).flatten()
    same = region[:, None] == region[None, :]
    assert torch.equal(mask[3] == 0, same)
    assert (mask[3][~same] == -100).all()


def test_relative_position_bias_depends_on_offset_only():
    attn = WindowMSA(8, 2, (3, 4))
    index = attn.relative_position_index
    coords = [(i // 4, i % 4) for i in range(12)]
    rows_of = {}
    for a, (ya, xa) in enumerate(coords):
        for b, (yb, xb) in enumerate(coords):
            rows_of.setdefault((ya - yb, xa - xb), set()).add(int(index[a, b]))
    # one table row per offset, a different one for each offset
    assert all(len(r) == 1 for r in rows_of.values())
    assert len({next(iter(r)) for r in rows_of.values()}) == len(rows_of)
    assert len(rows_of) == attn.relative_position_bias_table.shape[0]
    assert 'relative_position_index' in attn.state_dict()


def test_window_msa_equals_attention_formula():
    torch.manual_seed(0)
    attn = WindowMSA(8, 2, (2, 2), qk_scale=0.3).double()
    nn.init.normal_(attn.relative_position_bias_table)
    x = torch.randn(3, 4, 8, dtype=torch.float64)
    q, k, v = attn.qkv(x).chunk(3, -1)
    out = []
    coords = [(0, 0), (0, 1), (1, 0), (1, 1)]
    for head in range(2):
        sl = slice(4 * head, 4 * head + 4)
        logits = 0.3 * q[..., sl] @ k[..., sl].transpose(1, 2)
        bias = torch.tensor(
            [
                [
                    attn.relative_position_bias_table.detach()[
                        (ya - yb + 1) * 3 + (xa - xb + 1), head
                    ]
                    for (yb, xb) in coords
                ]
                for (ya, xa) in coords
            ],
            dtype=torch.float64,
        )
        out.append((logits + bias).softmax(-1) @ v[..., sl])
    expected = attn.proj(torch.cat(out, -1))
    assert torch.allclose(attn(x), expected)


@pytest.mark.parametrize('size', [(64, 96), (65, 97)])
def test_swin_output_shapes_and_strides(size):
    model = build_backbone(TINY_SWIN)
    model.init_weights()
    outs = model(torch.randn(2, 3, *size))
    for i, out in enumerate(outs):
        stride = 4 * 2**i
        assert out.shape == (
            2,
            16 * 2**i,
            -(-size[0] // stride),
            -(-size[1] // stride),
        )


def test_swin_abs_pos_embed_frozen_stages_and_out_indices():
    model = build_backbone(
        dict(
            TINY_SWIN,
            use_abs_pos_embed=True,
            pretrain_img_size=32,
            frozen_stages=2,
            out_indices=(1, 3),
        )
    )
    model.init_weights()
    model.train()
    assert model.absolute_pos_embed.shape == (1, 16, 8, 8)
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert any(n.startswith('patch_embed') for n in frozen)
    assert any(n.startswith('stages.1.') for n in frozen)
    assert not any(n.startswith('stages.2.') for n in frozen)
    assert not model.stages[0].training and model.stages[2].training
    assert not hasattr(model, 'norm0') and hasattr(model, 'norm1')
    outs = model(torch.randn(1, 3, 40, 48))
    assert [o.shape[1] for o in outs] == [32, 128]


def authors_patch_merging(x, h, w, norm, reduction):
    """The Swin authors' patch merging of ``(B, H*W, C)`` tokens."""
    x = x.view(x.shape[0], h, w, -1)
    parts = [x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2]]
    x = torch.cat(parts + [x[:, 1::2, 1::2]], -1).flatten(1, 2)
    return reduction(norm(x))


def test_swin_converter_reorders_patch_merging():
    torch.manual_seed(0)
    c = 6
    norm, reduction = nn.LayerNorm(4 * c), nn.Linear(4 * c, 2 * c, bias=False)
    nn.init.normal_(norm.weight)
    nn.init.normal_(norm.bias)
    authors = {
        'layers.0.downsample.norm.weight': norm.weight.data,
        'layers.0.downsample.norm.bias': norm.bias.data,
        'layers.0.downsample.reduction.weight': reduction.weight.data,
        'head.weight': torch.zeros(3),
    }
    converted = swin_converter(authors)
    assert 'backbone.head.weight' not in converted
    prefix = 'backbone.stages.0.downsample.'
    merging = PatchMerging(c, 2 * c, norm_cfg=dict(type='LN'))
    merging.load_state_dict(
        {
            k[len(prefix) :]: v
            for k, v in converted.items()
            if k.startswith(prefix)
        }
    )
    x = torch.randn(2, 8 * 6, c)
    expected = authors_patch_merging(x, 8, 6, norm, reduction)
    assert torch.allclose(merging(x, (8, 6))[0], expected, atol=1e-5)


def test_swin_converter_key_names():
    v = torch.zeros(1)
    authors = {
        'patch_embed.proj.weight': v,
        'patch_embed.norm.weight': v,
        'layers.1.blocks.0.attn.qkv.weight': v,
        'layers.1.blocks.0.attn.relative_position_bias_table': v,
        'layers.1.blocks.0.mlp.fc1.weight': v,
        'layers.1.blocks.0.mlp.fc2.bias': v,
        'layers.1.blocks.0.norm2.weight': v,
        'norm.weight': v,
    }
    assert sorted(swin_converter(authors)) == sorted(
        'backbone.' + k
        for k in [
            'patch_embed.projection.weight',
            'patch_embed.norm.weight',
            'stages.1.blocks.0.attn.w_msa.qkv.weight',
            'stages.1.blocks.0.attn.w_msa.relative_position_bias_table',
            'stages.1.blocks.0.ffn.layers.0.0.weight',
            'stages.1.blocks.0.ffn.layers.1.bias',
            'stages.1.blocks.0.norm2.weight',
            'norm.weight',
        ]
    )


def test_swin_loads_its_own_checkpoint_and_resizes_bias_tables(tmp_path):
    torch.manual_seed(0)
    source = build_backbone(dict(TINY_SWIN, window_size=2))
    source.init_weights()
    for m in source.modules():
        if isinstance(m, WindowMSA):
            m.relative_position_bias_table.data.fill_(0.7)
    path = str(tmp_path / 'swin.pth')
    torch.save(
        {
            'state_dict': {
                'backbone.' + k: v for k, v in source.state_dict().items()
            }
        },
        path,
    )
    same = build_backbone(
        dict(
            TINY_SWIN,
            window_size=2,
            init_cfg=dict(type='Pretrained', checkpoint=path),
        )
    )
    same.init_weights()
    x = torch.randn(1, 3, 32, 32)
    source.eval(), same.eval()
    assert torch.equal(source(x)[-1], same(x)[-1])
    bigger = build_backbone(
        dict(TINY_SWIN, init_cfg=dict(type='Pretrained', checkpoint=path))
    )
    bigger.init_weights()
    key = 'stages.0.blocks.0.attn.w_msa.relative_position_bias_table'
    table = bigger.state_dict()[key]
    assert table.shape == (49, 1)
    # bicubic resizing keeps a constant table constant
    assert torch.allclose(table, torch.full_like(table, 0.7))


@pytest.mark.parametrize(
    'init_cfg',
    [
        dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.5),
        dict(type='Normal', layer='Linear', std=0.01, bias=0.5),
        dict(type='Caffe2Xavier', layer='Linear', bias=0.5),
    ],
)
def test_mmcv_init_types_reach_transformer_backbones(init_cfg):
    for cfg in (
        TINY_SWIN,
        dict(type='PyramidVisionTransformerV2', embed_dims=8),
    ):
        model = build_backbone(dict(cfg, init_cfg=init_cfg))
        model.init_weights()
        linears = [
            m
            for m in model.modules()
            if isinstance(m, nn.Linear) and m.bias is not None
        ]
        assert linears
        assert all((m.bias == 0.5).all() for m in linears)


@pytest.mark.parametrize('version', ['', 'V2'])
def test_pvt_output_shapes_and_strides(version):
    model = build_backbone(
        dict(
            type='PyramidVisionTransformer' + version,
            embed_dims=8,
            num_layers=[1, 1, 1, 1],
            pretrain_img_size=64,
        )
    )
    model.init_weights()
    outs = model(torch.randn(2, 3, 64, 96))
    heads = [1, 2, 5, 8]
    for i, out in enumerate(outs):
        stride = 4 * 2**i
        assert out.shape == (2, 8 * heads[i], 64 // stride, 96 // stride)
    names = dict(model.named_modules())
    if version:
        assert 'layers.0.1.0.ffn.layers.1' in names  # depthwise conv
        assert isinstance(names['layers.0.2'], nn.LayerNorm)
    else:
        assert 'layers.0.1.0.pos_embed' in dict(model.named_parameters())
        assert isinstance(names['layers.0.2'], nn.Identity)


def test_absolute_position_embedding_adds_the_grid_resized():
    embed = AbsolutePositionEmbedding(4, 3)
    nn.init.normal_(embed.pos_embed)
    x = torch.randn(2, 16, 3)
    assert torch.allclose(embed(x, (4, 4)), x + embed.pos_embed)
    grid = embed.pos_embed.view(1, 4, 4, 3).permute(0, 3, 1, 2)
    wide = F.interpolate(grid, size=(4, 8), mode='bilinear')
    x = torch.randn(1, 32, 3)
    expected = x + wide.flatten(2).transpose(1, 2)
    assert torch.allclose(embed(x, (4, 8)), expected)


def test_pvt_convert_loads_authors_layout(tmp_path):
    """A v1 PVT with 2-stage, 1-block layout named as the PVT authors do
    (q and kv separate, linear FFN, per-stage pos_embed, class token)."""
    torch.manual_seed(0)
    model = build_backbone(
        dict(
            type='PyramidVisionTransformer',
            embed_dims=4,
            num_stages=2,
            num_layers=[1, 1],
            num_heads=[1, 2],
            patch_sizes=[4, 2],
            strides=[4, 2],
            sr_ratios=[2, 1],
            mlp_ratios=[2, 2],
            out_indices=(0, 1),
            pretrain_img_size=32,
        )
    )
    ours = model.state_dict()
    authors = {
        'cls_token': torch.zeros(1, 1, 8),
        'head.weight': torch.zeros(2),
    }
    for s, dims, grid in [(1, 4, 8), (2, 8, 4)]:
        authors[f'pos_embed{s}'] = torch.randn(1, grid * grid, dims)
        authors[f'patch_embed{s}.proj.weight'] = torch.randn(
            ours[f'layers.{s - 1}.0.projection.weight'].shape
        )
        b = f'block{s}.0.'
        authors[b + 'attn.q.weight'] = torch.randn(dims, dims)
        authors[b + 'attn.kv.weight'] = torch.randn(2 * dims, dims)
        authors[b + 'attn.proj.weight'] = torch.randn(dims, dims)
        authors[b + 'mlp.fc1.weight'] = torch.randn(2 * dims, dims)
        authors[b + 'mlp.fc2.weight'] = torch.randn(dims, 2 * dims)
        authors[b + 'norm1.weight'] = torch.randn(dims)
    authors['block1.0.attn.sr.weight'] = torch.randn(4, 4, 2, 2)
    converted = pvt_convert(authors)
    assert set(converted) <= set(ours)
    for k, v in converted.items():
        assert v.shape == ours[k].shape, k
    q = authors['block2.0.attn.q.weight']
    kv = authors['block2.0.attn.kv.weight']
    key = 'layers.1.1.1.attn.attn.in_proj_weight'
    assert torch.equal(converted[key], torch.cat([q, kv]))
    fc1 = converted['layers.0.1.1.ffn.layers.0.weight']
    assert torch.equal(fc1[:, :, 0, 0], authors['block1.0.mlp.fc1.weight'])
    assert 'layers.0.1.1.ffn.layers.3.weight' in converted
    assert torch.equal(
        converted['layers.0.1.0.pos_embed'], authors['pos_embed1']
    )
    # PVT's configs name the checkpoint without type='Pretrained'
    path = str(tmp_path / 'pvt_authors.pth')
    torch.save(authors, path)
    model.init_cfg = dict(checkpoint=path)
    model.init_weights()
    loaded = model.state_dict()
    for k, v in converted.items():
        assert torch.equal(loaded[k], v), k


def test_stock_transformer_configs_initialise_and_run():
    """The stock configs with their ImageNet checkpoints switched off
    initialise through mmcv's init path and detect."""
    for rel in (
        'pvt/retinanet_pvtv2-b0_fpn_1x_coco.py',
        'swin/mask_rcnn_swin-t-p4-w7_fpn_1x_coco.py',
    ):
        cfg = Config.fromfile(osp.join(CONFIGS, rel))
        cfg.model.backbone.init_cfg = None
        model = build_detector(cfg.model)
        model.init_weights()
        model.eval()
        meta = dict(
            img_shape=(64, 80, 3),
            ori_shape=(64, 80, 3),
            pad_shape=(64, 80, 3),
            scale_factor=1.0,
            flip=False,
        )
        with torch.no_grad():
            results = model.simple_test(torch.randn(1, 3, 64, 80), [meta])
        assert len(results) == 1
