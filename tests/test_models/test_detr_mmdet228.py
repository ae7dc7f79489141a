"""DETR and Deformable DETR against numbers MMDetection 2.28.2 computed
(tests/data/reference/detr_mmdet228.json): positional encodings, encoder
and decoder sequences, both transformers, and the four heads' losses and
detections, each built from the same tiny config with the same
formula-filled weights (state-dict keys sorted, key ``i`` filled with
``sin(0.731 j + i) * scale``)."""

import copy
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmcv import ConfigDict
from mmcv.cnn.bricks.transformer import (
    build_positional_encoding,
    build_transformer_layer_sequence,
)

from mmdet.models import build_detector, build_head
from mmdet.models.utils import build_transformer

REF = json.load(
    open(
        osp.join(
            osp.dirname(osp.dirname(__file__)),
            'data',
            'reference',
            'detr_mmdet228.json',
        )
    )
)
ATOL = 1e-4


def seq(shape, k=0.0, scale=1.0):
    """Deterministic inputs / weights, the reference's formula."""
    n = int(np.prod(shape)) if len(shape) else 1
    v = torch.sin(torch.arange(n, dtype=torch.float64) * 0.731 + k) * scale
    return v.reshape(shape).float()


def fill(module, scale=0.3):
    sd = module.state_dict()
    for i, k in enumerate(sorted(sd)):
        if sd[k].dtype.is_floating_point:
            sd[k].copy_(seq(tuple(sd[k].shape), float(i), scale))
    return module.eval()


def check_keys(module, want):
    got = {k: list(v.shape) for k, v in module.state_dict().items()}
    assert got == want


def close(a, b):
    np.testing.assert_allclose(
        np.asarray(a.detach() if torch.is_tensor(a) else a, np.float64),
        np.asarray(b, np.float64),
        atol=ATOL,
        rtol=0,
    )


def pad_mask(bs, h, w, valid):
    """True outside each image's ``valid`` (h, w)."""
    m = torch.ones(bs, h, w, dtype=torch.bool)
    for i, (vh, vw) in enumerate(valid):
        m[i, :vh, :vw] = False
    return m


# ---------------------------------------------------------------------------
# positional encodings


@pytest.mark.parametrize('case', range(3))
def test_sine_positional_encoding_matches_mmdet(case):
    ref = REF['positional']
    c = ref['sine'][case]
    pe = build_positional_encoding(
        dict(type='SinePositionalEncoding', **c['cfg'])
    )
    close(pe(torch.tensor(ref['mask'], dtype=torch.bool)), c['out'])


def test_learned_positional_encoding_matches_mmdet():
    ref = REF['positional']
    c = ref['learned']
    pe = fill(build_positional_encoding(c['cfg']))
    check_keys(pe, c['keys'])
    close(pe(torch.tensor(ref['mask'], dtype=torch.bool)), c['out'])


# ---------------------------------------------------------------------------
# layer sequences and transformers

E = 16


def _encoder_inputs():
    query = seq((6, 2, E), 0.5)
    query_pos = seq((6, 2, E), 1.5, 0.5)
    mask = pad_mask(2, 2, 3, [(2, 3), (1, 2)]).view(2, -1)
    return query, query_pos, mask


@pytest.mark.parametrize('name', ['encoder_post', 'encoder_pre'])
def test_detr_encoder_matches_mmdet(name):
    ref = REF['layers'][name]
    enc = fill(build_transformer_layer_sequence(copy.deepcopy(ref['cfg'])))
    check_keys(enc, ref['keys'])
    assert (enc.post_norm is not None) == (name == 'encoder_pre')
    query, query_pos, mask = _encoder_inputs()
    out = enc(
        query=query,
        key=None,
        value=None,
        query_pos=query_pos,
        query_key_padding_mask=mask,
    )
    close(out, ref['out'])


@pytest.mark.parametrize('inter', [1, 0])
def test_detr_decoder_matches_mmdet(inter):
    ref = REF['layers'][f'decoder_inter{inter}']
    dec = fill(build_transformer_layer_sequence(copy.deepcopy(ref['cfg'])))
    check_keys(dec, ref['keys'])
    memory, memory_pos, mask = _encoder_inputs()
    out = dec(
        query=seq((5, 2, E), 2.5),
        key=memory,
        value=memory,
        query_pos=seq((5, 2, E), 3.5, 0.5),
        key_pos=memory_pos,
        key_padding_mask=mask,
    )
    assert out.shape[0] == (2 if inter else 1)
    close(out, ref['out'])


def test_detr_transformer_matches_mmdet():
    ref = REF['layers']['transformer']
    model = fill(build_transformer(copy.deepcopy(ref['cfg'])))
    check_keys(model, ref['keys'])
    mask = pad_mask(2, 2, 3, [(2, 3), (1, 2)])
    out_dec, memory = model(
        seq((2, E, 2, 3), 4.5),
        mask,
        seq((5, E), 6.5, 0.5),
        seq((2, E, 2, 3), 5.5, 0.5),
    )
    close(out_dec, ref['out_dec'])
    close(memory, ref['memory'])


def test_deformable_detr_transformer_matches_mmdet():
    ref = REF['layers']['deformable_transformer']
    model = fill(build_transformer(copy.deepcopy(ref['cfg'])))
    check_keys(model, ref['keys'])
    feats = [seq((2, E, 4, 6), 7.5), seq((2, E, 2, 3), 8.5)]
    masks = [
        pad_mask(2, 4, 6, [(4, 6), (3, 5)]),
        pad_mask(2, 2, 3, [(2, 3), (2, 2)]),
    ]
    pos = [seq((2, E, 4, 6), 9.5, 0.5), seq((2, E, 2, 3), 10.5, 0.5)]
    hs, init_ref, inter_ref, enc_cls, enc_coord = model(
        feats, masks, seq((5, 2 * E), 11.5, 0.5), pos
    )
    assert enc_cls is None and enc_coord is None
    close(hs, ref['inter_states'])
    close(init_ref, ref['init_reference'])
    close(inter_ref, ref['inter_references'])


# ---------------------------------------------------------------------------
# heads: losses and detections

HEADS = REF['heads']


def _metas():
    return [
        dict(
            batch_input_shape=tuple(HEADS['batch_input_shape']),
            img_shape=tuple(shape),
            ori_shape=tuple(shape),
            pad_shape=tuple(HEADS['batch_input_shape']) + (3,),
            scale_factor=np.array(factor, dtype=np.float32),
        )
        for shape, factor in zip(HEADS['img_shapes'], HEADS['scale_factors'])
    ]


def _head_and_feats(name):
    ref = HEADS['results'][name]
    head = build_head(ConfigDict(copy.deepcopy(ref['cfg'])))
    fill(head, ref['fill_scale'])
    check_keys(head, ref['keys'])
    bh, bw = HEADS['batch_input_shape']
    if name == 'detr':
        feats = [seq((2, 8, bh // 32, bw // 32), 12.5)]
    else:
        e = head.embed_dims
        feats = [
            seq((2, e, bh // 8, bw // 8), 12.5),
            seq((2, e, bh // 16, bw // 16), 13.5),
        ]
    return head, feats, ref


@pytest.mark.parametrize('name', sorted(HEADS['results']))
def test_head_outputs_losses_and_bboxes_match_mmdet(name):
    head, feats, ref = _head_and_feats(name)
    metas = _metas()
    with torch.no_grad():
        outs = head(feats, metas)
        cls_last, box_last = outs[0], outs[1]
        if name == 'detr':  # per level lists
            cls_last, box_last = cls_last[-1], box_last[-1]
        close(cls_last, ref['cls_scores'])
        close(box_last, ref['bbox_preds'])
        gt_bboxes = [torch.tensor(b) for b in HEADS['gt_bboxes']]
        gt_labels = [torch.tensor(lb) for lb in HEADS['gt_labels']]
        losses = head.loss(*outs, gt_bboxes, gt_labels, metas)
        assert sorted(losses) == sorted(ref['losses'])
        for key, value in ref['losses'].items():
            close(float(losses[key]), value)
        dets = head.get_bboxes(*outs, metas)
        dets_rescaled = head.get_bboxes(*outs, metas, rescale=True)
    for (bboxes, labels), want in zip(dets, ref['dets']):
        close(bboxes, want['bboxes'])
        assert labels.tolist() == want['labels']
    for (bboxes, _), want in zip(dets_rescaled, ref['dets_rescaled']):
        close(bboxes, want)


def test_detr_head_checks_arguments():
    cfg = copy.deepcopy(HEADS['results']['detr']['cfg'])
    bad = copy.deepcopy(cfg)
    bad['train_cfg']['assigner']['reg_cost']['weight'] = 4.0
    with pytest.raises(AssertionError, match='reg_cost'):
        build_head(ConfigDict(bad))
    bad = copy.deepcopy(cfg)
    bad['positional_encoding']['num_feats'] = 4
    with pytest.raises(AssertionError, match='num_feats'):
        build_head(ConfigDict(bad))
    bad = copy.deepcopy(cfg)
    bad['loss_cls'] = dict(
        type='CrossEntropyLoss', class_weight=1, loss_weight=1.0
    )
    with pytest.raises(TypeError, match='class_weight'):
        build_head(ConfigDict(bad))


def test_detr_head_class_weight_and_v1_keys():
    """The no-object class weighs ``bg_cls_weight``; a pre-v2 checkpoint's
    keys are renamed on load."""
    cfg = copy.deepcopy(HEADS['results']['detr']['cfg'])
    head = build_head(ConfigDict(cfg))
    assert head.loss_cls.class_weight.tolist() == pytest.approx(
        [1.0, 1.0, 1.0, 0.1]
    )
    assert head.bg_cls_weight == 0.1
    state = fill(head).state_dict()
    old = {
        k.replace('.attentions.0.', '.self_attn.')
        .replace('.attentions.1.', '.multihead_attn.')
        .replace('.ffns.0.', '.ffn.')
        .replace('.decoder.post_norm.', '.decoder.norm.'): v.clone()
        for k, v in state.items()
    }
    assert set(old) != set(state)
    other = build_head(ConfigDict(copy.deepcopy(cfg)))
    other.load_state_dict(old, strict=True)  # no version: pre-v2
    for k, v in other.state_dict().items():
        assert torch.equal(v, state[k])


@pytest.mark.parametrize('refine, two_stage', [(0, 0), (1, 0), (1, 1)])
def test_deformable_head_branches(refine, two_stage):
    """Shared branches without refinement, one per decoder layer (+1 for
    the encoder proposals) with it; init as MMDetection's."""
    cfg = copy.deepcopy(HEADS['results']['deformable']['cfg'])
    cfg.update(with_box_refine=bool(refine), as_two_stage=bool(two_stage))
    if two_stage:
        cfg = copy.deepcopy(HEADS['results']['deformable_twostage']['cfg'])
    head = build_head(ConfigDict(cfg))
    head.init_weights()
    n = head.transformer.decoder.num_layers + two_stage
    assert len(head.cls_branches) == len(head.reg_branches) == n
    distinct = len({id(m) for m in head.reg_branches})
    assert distinct == (n if refine else 1)
    assert hasattr(head, 'query_embedding') != bool(two_stage)
    assert head.transformer.as_two_stage == bool(two_stage)
    bias = head.reg_branches[0][-1].bias
    assert bias[2:].tolist() == ([0.0, 0.0] if two_stage else [-2.0, -2.0])
    prior = -float(np.log((1 - 0.01) / 0.01))
    close(head.cls_branches[0].bias, [prior] * 3)


def test_detr_detector_forward_dummy_and_test():
    """DETR wires the head to the backbone without a neck and returns one
    (k, 5) array per class."""
    cfg = copy.deepcopy(HEADS['results']['detr']['cfg'])
    cfg['in_channels'] = 64
    model = build_detector(
        ConfigDict(
            type='DETR',
            backbone=dict(
                type='ResNet',
                depth=18,
                num_stages=1,
                out_indices=(0,),
                strides=(1,),
                dilations=(1,),
            ),
            bbox_head=cfg,
            train_cfg=cfg.pop('train_cfg'),
            test_cfg=cfg.pop('test_cfg'),
        )
    )
    assert not model.with_neck
    model.eval()
    img = torch.rand(1, 3, 32, 40)
    with pytest.warns(UserWarning, match='FLOPs'):
        cls_scores, bbox_preds = model.forward_dummy(img)
    assert cls_scores[0].shape == (2, 1, 5, 4)
    meta = dict(
        img_shape=(32, 40, 3),
        ori_shape=(32, 40, 3),
        pad_shape=(32, 40, 3),
        scale_factor=np.ones(4, dtype=np.float32),
    )
    with torch.no_grad():
        result = model.forward_test([img], [[meta]], rescale=True)[0]
    assert len(result) == 3
    assert sum(len(r) for r in result) == 4


@pytest.mark.parametrize('name', ['deformable_refine', 'deformable'])
def test_deformable_detr_detector_train_step(name):
    """Backbone -> ChannelMapper -> head: the losses of every decoder layer
    reach the queries and each layer's own (refine) or the shared box
    branch."""
    cfg = copy.deepcopy(HEADS['results'][name]['cfg'])
    model = build_detector(
        ConfigDict(
            type='DeformableDETR',
            backbone=dict(
                type='ResNet',
                depth=18,
                num_stages=2,
                strides=(1, 2),
                dilations=(1, 1),
                out_indices=(0, 1),
            ),
            neck=dict(
                type='ChannelMapper',
                in_channels=[64, 128],
                kernel_size=1,
                out_channels=E,
                act_cfg=None,
                norm_cfg=dict(type='GN', num_groups=4),
                num_outs=2,
            ),
            bbox_head=cfg,
            train_cfg=cfg.pop('train_cfg'),
            test_cfg=cfg.pop('test_cfg'),
        )
    )
    model.train()
    metas = _metas()
    bh, bw = HEADS['batch_input_shape']
    losses = model.forward_train(
        seq((2, 3, bh, bw), 0.1),
        metas,
        [torch.tensor(b) for b in HEADS['gt_bboxes']],
        [torch.tensor(lb) for lb in HEADS['gt_labels']],
    )
    assert sorted(losses) == sorted(HEADS['results'][name]['losses'])
    total = sum(losses.values())
    assert torch.isfinite(total)
    total.backward()
    head = model.bbox_head
    assert head.query_embedding.weight.grad.abs().sum() > 0
    for branch in head.reg_branches:
        assert branch[-1].weight.grad.abs().sum() > 0
