"""Grid R-CNN's GridHead against MMDetection 2.28.2 on the same seeded
weights (every state-dict entry filled from its own seed, same keys and
shapes) and input: heatmaps, targets, loss and decoded boxes
(``tests/data/reference/grid_head_mmdet228.json``)."""

import json
import os.path as osp

import pytest
import torch

from mmdet.core.bbox.samplers.sampling_result import SamplingResult
from mmdet.models.builder import build_head
from mmdet.models.roi_heads.grid_roi_head import jitter_boxes
from mmdet.utils.arg_errors import InvalidArgumentError

REF = osp.join(
    osp.dirname(osp.dirname(__file__)),
    'data',
    'reference',
    'grid_head_mmdet228.json',
)
with open(REF) as f:
    DATA = json.load(f)


def seeded(model):
    """Each entry of the sorted state dict from ``randn`` of seed = rank."""
    for i, (_, p) in enumerate(sorted(model.state_dict().items())):
        gen = torch.Generator().manual_seed(i)
        p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
    return model


@pytest.fixture(scope='module')
def head():
    head = seeded(build_head(dict(DATA['cfg'])))
    state = head.state_dict()
    assert sorted(state) == DATA['keys']
    assert [list(state[k].shape) for k in DATA['keys']] == DATA['shapes']
    return head


def _feats():
    gen = torch.Generator().manual_seed(DATA['feats_seed'])
    return torch.randn(3, 8, 6, 6, generator=gen)


def test_grid_head_forward_and_decode(head):
    head.eval()
    with torch.no_grad():
        fused = head(_feats())['fused']
    assert fused.flatten()[:50].tolist() == pytest.approx(
        DATA['fused'], abs=1e-4
    )
    assert fused.sum().item() == pytest.approx(DATA['fused_sum'], abs=1e-3)
    assert fused.abs().sum().item() == pytest.approx(
        DATA['fused_abs'], rel=1e-5
    )
    det = torch.tensor(DATA['det'])
    boxes = head.get_bboxes(det, fused, [dict(img_shape=(70, 70, 3))])
    assert torch.allclose(boxes, torch.tensor(DATA['boxes']), atol=1e-4)


def _sampling_result():
    res = SamplingResult.__new__(SamplingResult)
    res.pos_bboxes = torch.tensor(DATA['pos'])
    res.pos_gt_bboxes = torch.tensor(DATA['gts'])
    return res


def test_grid_head_targets_and_loss(head):
    assert [list(r) for r in head.sub_regions] == DATA['sub_regions']
    targets = head.get_targets([_sampling_result()], dict(pos_radius=1))
    assert list(targets.shape) == DATA['targets_shape']
    assert targets.nonzero().tolist() == DATA['targets_nonzero']
    head.train()
    loss = head.loss(head(_feats()), targets[:3])
    assert loss['loss_grid'].item() == pytest.approx(
        DATA['loss_grid'], abs=1e-4
    )


def test_grid_head_arguments():
    with pytest.raises(InvalidArgumentError):
        build_head(dict(type='GridHead', grid_points=8))
    with pytest.raises(InvalidArgumentError):
        build_head(
            dict(type='GridHead', norm_cfg=dict(type='GN', num_groups=7))
        )


def test_jitter_stays_in_image():
    torch.manual_seed(0)
    boxes = torch.tensor([[0.0, 0.0, 30.0, 40.0], [5.0, 5.0, 9.0, 9.0]])
    out = jitter_boxes(boxes, (32, 32, 3))
    assert out.shape == (2, 4)
    assert out.min() >= 0 and out.max() <= 31
    assert not torch.equal(out, boxes)


def test_grid_rcnn_trains_and_tests():
    """The repo's stock config (tiny images) trains a step and tests."""
    from mmcv import Config

    from mmdet.models import build_detector

    cfg = Config.fromfile(
        'configs/grid_rcnn/grid_rcnn_r50_fpn_gn-head_1x_coco.py'
    )
    cfg.model.backbone.init_cfg = None
    cfg.model.backbone.depth = 18
    cfg.model.neck.in_channels = [64, 128, 256, 512]
    model = build_detector(cfg.model)
    torch.manual_seed(0)
    img = torch.randn(1, 3, 64, 64)
    meta = dict(
        img_shape=(64, 64, 3),
        ori_shape=(64, 64, 3),
        pad_shape=(64, 64, 3),
        scale_factor=torch.ones(4).numpy(),
        flip=False,
    )
    losses = model.forward_train(
        img,
        [meta],
        [torch.tensor([[4.0, 6.0, 40.0, 50.0]])],
        [torch.tensor([3])],
    )
    assert 'loss_grid' in losses and losses['loss_grid'] > 0
    model.eval()
    with torch.no_grad():
        out = model.simple_test(img, [meta], rescale=True)
    assert len(out[0]) == 80
