"""Key maps from the authors' ImageNet releases of Swin and PVT to
MMDetection's module names (``convert_weights=True``)."""

import re

import torch


def _swin_merge_order(v):
    """The release joins the 2x2 neighbours as blocks of C channels in the
    order (0,0), (1,0), (0,1), (1,1); mmcv's ``PatchMerging`` (``nn.Unfold``)
    gives per channel (0,0), (0,1), (1,0), (1,1). Reorder the last axis of
    ``reduction.weight`` or ``norm.*`` from the first layout to the second.
    """
    c = v.shape[-1] // 4
    v = v.reshape(*v.shape[:-1], 4, c)[..., [0, 2, 1, 3], :]
    return v.transpose(-1, -2).reshape(*v.shape[:-2], 4 * c)


def _swin_key(k, v):
    if k.startswith('patch_embed'):
        return k.replace('proj', 'projection'), v
    if not k.startswith('layers'):
        return k, v
    k = k.replace('layers', 'stages', 1)
    if 'attn.' in k:
        return k.replace('attn.', 'attn.w_msa.'), v
    if 'mlp.' in k:
        k = k.replace('mlp.fc1.', 'ffn.layers.0.0.')
        return k.replace('mlp.fc2.', 'ffn.layers.1.').replace(
            'mlp.', 'ffn.'
        ), v
    if 'downsample.reduction.' in k or 'downsample.norm.' in k:
        return k, _swin_merge_order(v)
    return k, v


def swin_converter(ckpt):
    """The Swin authors' state dict -> ``SwinTransformer``'s, each key
    prefixed with ``backbone.`` (the classifier ``head.*`` dropped)."""
    out = {}
    for k, v in ckpt.items():
        if not k.startswith('head'):
            new_k, new_v = _swin_key(k, v)
            out['backbone.' + new_k] = new_v
    return out


def _pvt_block_key(k, v, ckpt, has_pos, conv_ffn):
    stage, index, rest = re.match(r'block(\d+)\.(\d+)\.(.*)', k).groups()
    prefix = f'layers.{int(stage) - 1}.1.{int(index) + has_pos}.'
    if rest.startswith('attn.kv.'):
        return None
    if rest.startswith('attn.q.'):
        kv = ckpt[k.replace('attn.q.', 'attn.kv.')]
        return prefix + rest.replace('q.', 'attn.in_proj_'), torch.cat([v, kv])
    if rest.startswith('attn.proj.'):
        return prefix + rest.replace('proj.', 'attn.out_proj.'), v
    if rest.startswith('mlp.'):
        if rest.endswith(('fc1.weight', 'fc2.weight')):
            v = v.reshape(*v.shape, 1, 1)
        fc2 = '4.' if conv_ffn else '3.'
        rest = rest.replace('mlp.', 'ffn.layers.').replace('fc1.', '0.')
        rest = rest.replace('dwconv.dwconv.', '1.').replace('fc2.', fc2)
    return prefix + rest, v


def _pvt_key(k, v, ckpt, has_pos, conv_ffn):
    if k.startswith(('head', 'norm.', 'cls_token')):
        return None
    if k.startswith('pos_embed'):
        stage = int(k[len('pos_embed') :])
        if stage == 4 and v.shape[1] == 50:  # a class token + 7 * 7
            v = v[:, 1:]
        return f'layers.{stage - 1}.1.0.pos_embed', v
    if k.startswith('patch_embed'):
        stage, rest = re.match(r'patch_embed(\d+)\.(.*)', k).groups()
        rest = rest.replace('proj.', 'projection.')
        return f'layers.{int(stage) - 1}.0.{rest}', v
    if k.startswith('block'):
        return _pvt_block_key(k, v, ckpt, has_pos, conv_ffn)
    if k.startswith('norm'):
        return f'layers.{int(k[4]) - 1}.2{k[5:]}', v
    return k, v


def pvt_convert(ckpt):
    """The PVT authors' state dict (v1 or v2) -> ``PyramidVisionTransformer
    (V2)``'s: q and kv projections joined into ``in_proj_*``, linear FFN
    weights as 1x1 convs, the classifier and class token dropped."""
    has_pos = any(k.startswith('pos_embed') for k in ckpt)
    conv_ffn = any('dwconv' in k for k in ckpt)
    out = {}
    for k, v in ckpt.items():
        item = _pvt_key(k, v, ckpt, has_pos, conv_ffn)
        if item is not None:
            out[item[0]] = item[1]
    return out
