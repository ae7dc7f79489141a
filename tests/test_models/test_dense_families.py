"""FoveaHead, PAAHead, FreeAnchorRetinaHead, FSAFHead, NASFCOSHead and
LADHead against MMDetection 2.28.2:
the same seeded state dict and inputs (dense_family_cases.py) give its
losses (also with no gt in the first image) and detections
(tests/data/reference/dense_families_mmdet228.json) to 4 decimals."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmcv import ConfigDict

from mmdet.models import build_head

sys.path.insert(0, str(Path(__file__).parent))
import dense_family_cases as cases  # noqa: E402

REF = json.loads(
    (
        Path(__file__).parents[1]
        / 'data/reference/dense_families_mmdet228.json'
    ).read_text()
)


def _head(name):
    head = build_head(ConfigDict(cases.CASES[name]))
    cases.seed_params(head)
    return head


def _needs_sklearn(name):
    if name in ('paa', 'lad'):
        pytest.importorskip('sklearn')


def _assert_losses(losses, want):
    assert set(losses) == set(want)
    for key, value in want.items():
        got = losses[key]
        got = float(sum(got) if isinstance(got, (list, tuple)) else got)
        assert got == pytest.approx(value, abs=1e-4), key


@pytest.mark.parametrize('name', list(cases.CASES))
@pytest.mark.parametrize('first_empty', [False, True])
def test_loss_matches_mmdet228(name, first_empty):
    _needs_sklearn(name)
    head = _head(name)
    feats, gt_bboxes, gt_labels, metas = cases.inputs()
    key = 'losses'
    if first_empty:
        gt_bboxes[0] = torch.zeros(0, 4)
        gt_labels[0] = torch.zeros(0, dtype=torch.long)
        key = 'losses_first_image_empty'
    extra = cases.loss_inputs(name, head, feats, gt_bboxes, gt_labels, metas)
    losses = head.loss(*head(feats), gt_bboxes, gt_labels, metas, **extra)
    _assert_losses(losses, REF[name][key])


@pytest.mark.parametrize('name', list(cases.CASES))
def test_get_bboxes_matches_mmdet228(name):
    head = _head(name)
    feats, _, _, metas = cases.inputs()
    with torch.no_grad():
        results = head.get_bboxes(*head(feats), img_metas=metas, rescale=True)
    for (dets, labels), want in zip(results, REF[name]['results']):
        assert labels.tolist() == want['labels']
        np.testing.assert_allclose(dets.numpy(), want['dets'], atol=1e-4)


def test_paa_gmm_drops_candidates():
    """The reference loss comes from a reassignment that changed labels."""
    pytest.importorskip('sklearn')
    head = _head('paa')
    feats, gt_bboxes, gt_labels, metas = cases.inputs()
    cls, box, _ = head(feats)
    sizes = [c.shape[-2:] for c in cls]
    anchors, valid = head.get_anchors(sizes, metas, device='cpu')
    labels, weights, targets, box_w, pos, gt_inds = head.get_targets(
        anchors, valid, gt_bboxes, metas, gt_labels_list=gt_labels
    )
    flat_cls = torch.cat([c[0].permute(1, 2, 0).reshape(-1, 3) for c in cls])
    flat_box = torch.cat([b[0].permute(1, 2, 0).reshape(-1, 4) for b in box])
    pos_losses = head.get_pos_loss(
        anchors[0],
        flat_cls,
        flat_box,
        labels[0],
        weights[0],
        targets[0],
        box_w[0],
        pos[0],
    )
    new_labels, _, new_box_w, num_pos = head.paa_reassign(
        pos_losses,
        labels[0],
        weights[0],
        box_w[0],
        pos[0],
        gt_inds[0],
        anchors[0],
    )
    assert 0 < num_pos < len(pos[0])
    assert int((new_labels < 3).sum()) == num_pos
    assert int((new_box_w[:, 0] > 0).sum()) == num_pos


def test_paa_without_sklearn_names_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, 'sklearn', None)
    monkeypatch.setitem(sys.modules, 'sklearn.mixture', None)
    head = _head('paa')
    feats, gt_bboxes, gt_labels, metas = cases.inputs()
    with pytest.raises(ImportError, match='pip install scikit-learn'):
        head.loss(*head(feats), gt_bboxes, gt_labels, metas)


def test_paa_refuses_boxes_without_nms():
    head = _head('paa')
    feats, _, _, metas = cases.inputs()
    with pytest.raises(NotImplementedError):
        head.get_bboxes(*head(feats), img_metas=metas, with_nms=False)


def test_fovea_no_gt_gives_zero_box_loss():
    head = _head('fovea')
    feats, _, _, metas = cases.inputs()
    empty = [torch.zeros(0, 4), torch.zeros(0, 4)]
    labels = [torch.zeros(0, dtype=torch.long)] * 2
    losses = head.loss(*head(feats), empty, labels, metas)
    assert losses['loss_bbox'].item() == 0
    assert losses['loss_cls'].item() > 0


def _tiny_lad():
    from mmdet.models import build_detector

    def resnet(depth):
        return dict(type='ResNet', depth=depth, out_indices=(0, 1, 2))

    neck = dict(
        type='FPN',
        in_channels=[64, 128, 256],
        out_channels=8,
        start_level=1,
        num_outs=2,
    )
    head = {
        k: v
        for k, v in cases.LAD.items()
        if k not in ('train_cfg', 'test_cfg')
    }
    return build_detector(
        ConfigDict(
            type='LAD',
            backbone=resnet(18),
            neck=neck,
            bbox_head=head,
            teacher_backbone=resnet(18),
            teacher_neck=neck,
            teacher_bbox_head=head,
            teacher_ckpt=None,
            train_cfg=cases.LAD['train_cfg'],
            test_cfg=cases.LAD['test_cfg'],
        )
    )


def test_lad_teacher_outside_state_dict_and_frozen():
    pytest.importorskip('sklearn')
    model = _tiny_lad()
    assert not any(k.startswith('teacher') for k in model.state_dict())
    teacher_params = set(map(id, model.teacher_model.parameters()))
    assert not teacher_params & set(map(id, model.parameters()))
    model.train()
    assert model.training and not model.teacher_model.training
    _, gt_bboxes, gt_labels, metas = cases.inputs()
    before = [p.clone() for p in model.teacher_model.parameters()]
    losses = model.forward_train(
        torch.rand(2, 3, 64, 64), metas, gt_bboxes, gt_labels
    )
    assert set(losses) == {'loss_cls', 'loss_bbox', 'loss_iou'}
    sum(losses.values()).backward()
    assert all(p.grad is None for p in model.teacher_model.parameters())
    assert all(
        torch.equal(a, b)
        for a, b in zip(before, model.teacher_model.parameters())
    )
    model.double()
    assert next(model.teacher_model.parameters()).dtype == torch.float64


def test_config_check_drops_teacher_ckpt():
    from mmdet.analysis.config_check import without_pretrained

    cfg = dict(type='LAD', teacher_ckpt='https://x/teacher.pth')
    assert without_pretrained(cfg)['teacher_ckpt'] is None


def test_center_prior_gaussian_and_force_topk():
    from mmdet.models.dense_heads.autoassign_head import CenterPrior

    prior = CenterPrior(force_topk=True, topk=2, num_classes=2, strides=[8])
    with torch.no_grad():
        prior.mean[1] = torch.tensor([0.5, -0.5])
        prior.sigma[1] = torch.tensor([2.0, 1.0])
    points = [torch.tensor([[4.0, 4.0], [12.0, 4.0], [20.0, 4.0]])]
    gts = torch.tensor([[0.0, 0.0, 16.0, 8.0], [17.0, 0.0, 19.0, 2.0]])
    labels = torch.tensor([1, 0])
    inside = torch.tensor([[True, False], [True, False], [False, False]])
    weights, new_inside = prior(points, gts, labels, inside)
    # gt 1 has no point inside: its 2 most likely points join it
    assert new_inside[:, 1].tolist() == [False, True, True]
    assert new_inside[:, 0].tolist() == inside[:, 0].tolist()
    # gt 0 (class 1), centre (8, 4): exp(-((dx/8 - 0.5)^2 / 8
    # + (dy/8 + 0.5)^2 / 2)) inside, 0 outside
    dx = torch.tensor([-4.0, 4.0]) / 8
    want = torch.exp(-((dx - 0.5) ** 2) / 8 - 0.25 / 2)
    assert torch.allclose(weights[:2, 0], want)
    assert weights[2, 0] == 0 and weights[0, 1] == 0


def test_paa_gmm_survives_tied_losses():
    """Tied float32 losses make scikit-learn's fit fail (a collapsed
    component); the fit is redone in float64 and splits off the outlier."""
    skm = pytest.importorskip('sklearn.mixture')
    from mmdet.models.dense_heads.paa_head import fit_loss_gmm

    x = np.array([17.035404] * 15 + [18.5], dtype=np.float32).reshape(-1, 1)
    gmm = skm.GaussianMixture(
        2,
        weights_init=np.array([0.5, 0.5]),
        means_init=np.array([x.min(), x.max()]).reshape(2, 1),
        precisions_init=np.ones((2, 1)),
    )
    with pytest.raises(ValueError):
        gmm.fit(x)
    assignment, scores = fit_loss_gmm(torch.from_numpy(x[:, 0]))
    assert assignment.tolist() == [0] * 15 + [1]
    assert scores.shape == (16,)
