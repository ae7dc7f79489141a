"""Corner pooling, AssociativeEmbeddingLoss, CornerHead and
CentripetalHead against MMDetection 2.28.2
(tests/data/reference/dense_points/corner_heads_mmdet228.json)."""

import json
from pathlib import Path

import pytest
import torch
from dense_points_fill import assert_same_dets, chirp, feat, fill_

from mmdet.models import build_detector, build_head, build_loss
from mmdet.models.utils import CornerPool
from mmdet.utils.arg_errors import InvalidArgumentError

REF = json.loads(
    (
        Path(__file__).parents[1]
        / 'data/reference/dense_points/corner_heads_mmdet228.json'
    ).read_text()
)
IMG_METAS = [
    dict(
        img_shape=(60, 62, 3),
        pad_shape=(64, 64, 3),
        batch_input_shape=(64, 64),
        scale_factor=[2.0] * 4,
        border=[3.0, 67.0, 5.0, 69.0],
    )
] * 2
GT_BBOXES = [
    torch.tensor([[4.0, 6.0, 30.0, 40.0], [20.0, 10.0, 60.0, 50.0]]),
    torch.tensor([[10.3, 12.7, 26.1, 22.9]]),
]
GT_LABELS = [torch.tensor([0, 2]), torch.tensor([1])]
TEST_CFG = dict(
    corner_topk=40,
    local_maximum_kernel=3,
    distance_threshold=0.5,
    score_thr=0.05,
    max_per_img=20,
    nms=dict(type='nms', iou_threshold=0.5),
)


def approx(values):
    return pytest.approx(values, abs=1e-4)


@pytest.mark.parametrize('mode', ['top', 'bottom', 'left', 'right'])
def test_corner_pool_matches_mmdet_and_loops(mode):
    x = feat((1, 2, 4, 5), 3)
    pooled = CornerPool(mode)(x)
    assert pooled.flatten().tolist() == approx(REF['corner_pool'][mode])
    # independent definition: max over the cells in the pooling direction
    h, w = x.shape[2:]
    for i in range(h):
        for j in range(w):
            window = {
                'top': x[..., i:, j],
                'bottom': x[..., : i + 1, j],
                'left': x[..., i, j:],
                'right': x[..., i, : j + 1],
            }[mode]
            assert torch.equal(pooled[..., i, j], window.amax(-1))


def test_corner_pool_bad_mode():
    with pytest.raises(InvalidArgumentError):
        CornerPool('up')


def test_associative_embedding_loss_matches_mmdet():
    loss = build_loss(dict(type='AssociativeEmbeddingLoss'))
    tl, br = feat((3, 1, 6, 7), 1), feat((3, 1, 6, 7), 2)
    match = [
        [[[0, 1], [4, 5]], [[2, 2], [5, 6]], [[1, 0], [3, 3]]],
        [[[1, 1], [2, 2]]],
        [],
    ]
    pull, push = loss(tl, br, match)
    assert pull.item() == approx(REF['ae_loss']['pull'][0])
    assert push.item() == approx(REF['ae_loss']['push'][0])


def test_associative_embedding_loss_formula():
    """Two objects, embeddings by hand: pull = sum of the squared
    half-gaps / N, push = relu(1 - |m1 - m2|) averaged over 2 pairs."""
    tl = torch.zeros(1, 1, 2, 2)
    br = torch.zeros(1, 1, 2, 2)
    tl[0, 0, 0, 0], br[0, 0, 1, 1] = 0.2, 0.6  # mean 0.4
    tl[0, 0, 0, 1], br[0, 0, 1, 0] = 0.5, 0.9  # mean 0.7
    match = [[[[0, 0], [1, 1]], [[0, 1], [1, 0]]]]
    loss = build_loss(
        dict(type='AssociativeEmbeddingLoss', pull_weight=1, push_weight=1)
    )
    pull, push = loss(tl, br, match)
    assert pull.item() == approx((4 * 0.2**2) / 2)
    assert push.item() == approx(1 - 0.3)


def make_head(name):
    extra = dict(corner_emb_channels=0) if name == 'CentripetalHead' else {}
    head = build_head(
        dict(
            type=name,
            num_classes=3,
            in_channels=8,
            num_feat_levels=2,
            test_cfg=TEST_CFG,
            **extra,
        )
    )
    fill_(head, 0.1)
    return head


def feats():
    return [chirp((2, 8, 16, 16), 0), chirp((2, 8, 16, 16), 1)]


@pytest.mark.parametrize('name', ['CornerHead', 'CentripetalHead'])
def test_head_loss_matches_mmdet(name):
    head = make_head(name).train()
    losses = head.loss(*head(feats()), GT_BBOXES, GT_LABELS, IMG_METAS)
    ref = REF[name]['losses']
    assert sorted(losses) == sorted(ref)
    for key, per_level in ref.items():
        ours = [v.item() for v in losses[key]]
        assert ours == approx([v[0] for v in per_level])


def decode_maps(name):
    """Two levels of head outputs with well-separated peaks (a ramp under
    the heatmaps), as the reference script built them."""

    def maps(c, k, scale=1.0, shift=0.0):
        return [chirp((2, c, 16, 16), k + j) * scale + shift for j in (0, 0.5)]

    def heat(c, k):
        ramp = torch.arange(2 * c * 256, dtype=torch.float64) * 0.003
        ramp = ramp.view(2, c, 16, 16)
        return [
            (chirp((2, c, 16, 16), k + j).double() * 2 - 2 + ramp).float()
            for j in (0, 0.5)
        ]

    heats = [heat(3, 1), heat(3, 2)]
    offs = [maps(2, 3, 0.5, 0.5), maps(2, 4, 0.5, 0.5)]
    if name == 'CornerHead':
        return heats + [maps(1, 5, 0.4), maps(1, 6, 0.4)] + offs
    shifts = [maps(2, 9, 0.7, 1.2), maps(2, 10, 0.7, 1.2)]
    return heats + offs + [maps(2, 7), maps(2, 8)] + shifts


@pytest.mark.parametrize('name', ['CornerHead', 'CentripetalHead'])
def test_head_detections_match_mmdet(name):
    head = make_head(name).eval()
    ref = REF[name]['decode']
    outs = decode_maps(name)
    nms = head.get_bboxes(*outs, img_metas=IMG_METAS, rescale=True)
    raw = head.get_bboxes(
        *outs, img_metas=IMG_METAS, rescale=False, with_nms=False
    )
    for ours, want in zip(nms, ref['dets_nms']):
        assert_same_dets(ours, want['bboxes'], want['labels'])
    assert [len(d) for d, _ in raw] == ref['num_raw']
    for (dets, labels), top, top_labels in zip(
        raw, ref['raw_top'], ref['raw_top_labels']
    ):
        top = torch.tensor(top).view(-1, 5)
        assert dets[: len(top)].flatten().tolist() == approx(
            top.flatten().tolist()
        )
        assert labels[: len(top)].tolist() == top_labels


def test_init_cfg_rejected():
    with pytest.raises(InvalidArgumentError):
        build_head(
            dict(
                type='CornerHead',
                num_classes=3,
                in_channels=8,
                init_cfg=dict(type='Normal', layer='Conv2d'),
            )
        )


@pytest.mark.parametrize('name', ['CornerHead', 'CentripetalHead'])
def test_cornernet_trains_and_flip_tests(name):
    extra = dict(corner_emb_channels=0) if name == 'CentripetalHead' else {}
    model = build_detector(
        dict(
            type='CornerNet',
            backbone=dict(
                type='HourglassNet',
                downsample_times=2,
                num_stacks=2,
                stage_channels=[8, 8, 8],
                stage_blocks=[1, 1, 1],
                feat_channel=8,
            ),
            neck=None,
            bbox_head=dict(type=name, num_classes=3, in_channels=8, **extra),
            test_cfg=dict(
                TEST_CFG,
                corner_topk=32,
                nms=dict(
                    type='soft_nms', iou_threshold=0.5, method='gaussian'
                ),
            ),
        )
    )
    img = torch.rand(2, 3, 64, 64)
    metas = [dict(m, flip=False) for m in IMG_METAS]
    losses = model.forward_train(img, metas, GT_BBOXES, GT_LABELS)
    sum(sum(v) for v in losses.values()).backward()
    model.eval()
    flipped = dict(metas[0], flip=True, flip_direction='horizontal')
    with torch.no_grad():
        results = model.aug_test(
            [img[:1], img[:1].flip(-1)], [[metas[0]], [flipped]]
        )
    assert len(results) == 1 and len(results[0]) == 3
    for per_class in results[0]:
        assert per_class.shape[1] == 5
