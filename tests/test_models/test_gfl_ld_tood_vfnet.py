"""Behaviour of the GFL / LD / TOOD / VFNet pieces beyond the numbers
compared with MMDetection (test_dense_heads_mmdet228.py): the star offsets,
the epoch hook, and the distillation detector's teacher handling."""

import pytest
import torch
from mmcv.parallel import MMDataParallel

from mmdet.core.hook import SetEpochInfoHook
from mmdet.models import build_detector, build_head
from mmdet.models.dense_heads.vfnet_head import star_offsets
from mmdet.utils.arg_errors import InvalidArgumentError

GN = dict(type='GN', num_groups=4, requires_grad=True)
ANCHORS = dict(
    type='AnchorGenerator',
    ratios=[1.0],
    octave_base_scale=8,
    scales_per_octave=1,
    strides=[8, 16],
)


def test_star_offsets_move_the_grid_onto_the_box_star():
    # one position, distances l, t, r, b in cells
    dist = torch.tensor([1.5, 2.0, 3.0, 0.5]).view(1, 4, 1, 1)
    offsets = star_offsets(dist).view(9, 2)
    grid = torch.tensor(
        [(i - 1.0, j - 1.0) for i in range(3) for j in range(3)]
    )
    left, t, r, b = 1.5, 2.0, 3.0, 0.5
    ys, xs = (-t, 0.0, b), (-left, 0.0, r)
    star = torch.tensor([(y, x) for y in ys for x in xs])
    torch.testing.assert_close(grid + offsets, star)


def test_vfnet_star_offsets_pass_gradient_mul_of_the_gradient():
    head = build_head(
        dict(
            type='VFNetHead', num_classes=2, in_channels=8,
            feat_channels=8, stacked_convs=1, norm_cfg=GN,
            strides=[8, 16], gradient_mul=0.25,
            anchor_generator=dict(ANCHORS, center_offset=0.0),
        )
    )  # fmt: skip
    dist = torch.rand(1, 4, 2, 2, requires_grad=True)
    head.star_dcn_offset(dist, 0.25, 8).sum().backward()
    direct = torch.rand(1, 4, 2, 2, requires_grad=True)
    star_offsets(direct / 8).sum().backward()
    torch.testing.assert_close(dist.grad, 0.25 * direct.grad)


def test_tood_rejects_an_unknown_anchor_type():
    with pytest.raises(InvalidArgumentError):
        build_head(
            dict(
                type='TOODHead', num_classes=2, in_channels=8,
                anchor_type='anchorless', anchor_generator=ANCHORS,
            )
        )  # fmt: skip


class _Runner:
    def __init__(self, model, epoch):
        self.model, self.epoch = model, epoch


class _EpochModel(torch.nn.Module):
    epoch = None

    def set_epoch(self, epoch):
        self.epoch = epoch


def test_set_epoch_info_hook_reaches_a_wrapped_model():
    model = _EpochModel()
    SetEpochInfoHook().before_train_epoch(_Runner(MMDataParallel(model), 3))
    assert model.epoch == 3


def test_tood_detector_passes_the_epoch_to_its_head():
    from types import SimpleNamespace

    from mmdet.models.detectors import TOOD

    model = SimpleNamespace(bbox_head=SimpleNamespace(epoch=0))
    TOOD.set_epoch(model, 4)
    assert model.bbox_head.epoch == 4


def _gfl_model(head_type='GFLHead', **extra):
    return dict(
        type='GFL',
        backbone=dict(
            type='ResNet', depth=18, num_stages=4, out_indices=(1, 2),
            norm_cfg=dict(type='BN', requires_grad=True),
        ),
        neck=dict(
            type='FPN', in_channels=[128, 256], out_channels=8, num_outs=2
        ),
        bbox_head=dict(
            type=head_type, num_classes=2, in_channels=8, feat_channels=8,
            stacked_convs=1, norm_cfg=GN, anchor_generator=ANCHORS,
            loss_cls=dict(
                type='QualityFocalLoss', use_sigmoid=True, beta=2.0,
                loss_weight=1.0,
            ),
            loss_bbox=dict(type='GIoULoss', loss_weight=2.0), **extra,
        ),
        train_cfg=dict(
            assigner=dict(type='ATSSAssigner', topk=9), allowed_border=-1,
            pos_weight=-1, debug=False,
        ),
        test_cfg=dict(
            nms_pre=100, min_bbox_size=0, score_thr=0.05,
            nms=dict(type='nms', iou_threshold=0.6), max_per_img=10,
        ),
    )  # fmt: skip


def _ld(teacher_ckpt=None, eval_teacher=True):
    student = _gfl_model(
        'LDHead',
        loss_ld=dict(
            type='KnowledgeDistillationKLDivLoss', loss_weight=0.25, T=10
        ),
    )
    return build_detector(
        dict(
            student,
            type='KnowledgeDistillationSingleStageDetector',
            teacher_config=dict(model=_gfl_model()),
            teacher_ckpt=teacher_ckpt,
            eval_teacher=eval_teacher,
        )
    )


def test_ld_teacher_is_outside_the_module_tree_and_trains_the_student():
    model = _ld()
    assert not any(k.startswith('teacher') for k in model.state_dict())
    model.train()
    assert model.training and not model.teacher_model.training
    img = torch.rand(1, 3, 64, 64)
    meta = dict(
        img_shape=(64, 64, 3), pad_shape=(64, 64, 3),
        scale_factor=[1.0] * 4, ori_shape=(64, 64, 3),
    )  # fmt: skip
    losses = model.forward_train(
        img, [meta], [torch.tensor([[4.0, 8.0, 40.0, 50.0]])],
        [torch.tensor([1])],
    )  # fmt: skip
    assert set(losses) == {'loss_cls', 'loss_bbox', 'loss_dfl', 'loss_ld'}
    sum(sum(v) for v in losses.values()).backward()
    assert all(p.grad is None for p in model.teacher_model.parameters())


def test_ld_loads_a_local_teacher_checkpoint(tmp_path):
    teacher = build_detector(_gfl_model())
    path = tmp_path / 'teacher.pth'
    torch.save(dict(state_dict=teacher.state_dict()), path)
    model = _ld(teacher_ckpt=str(path))
    for k, v in teacher.state_dict().items():
        torch.testing.assert_close(model.teacher_model.state_dict()[k], v)


def test_ld_teacher_url_offline_fails_naming_the_url(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    url = 'http://127.0.0.1:9/dgfl_missing_teacher.pth'
    with pytest.raises(ConnectionError, match='dgfl_missing_teacher'):
        _ld(teacher_ckpt=url)


def test_cost_atss_with_alpha_1_and_anchor_boxes_is_plain_atss():
    from mmdet.core.bbox import ATSSAssigner

    g = torch.Generator().manual_seed(0)
    xy = torch.rand(40, 2, generator=g) * 50
    anchors = torch.cat([xy, xy + 12], 1)
    gts = torch.tensor([[5.0, 5.0, 30.0, 35.0], [20.0, 10.0, 60.0, 50.0]])
    labels = torch.tensor([0, 1])
    plain = ATSSAssigner(topk=3).assign(anchors, [40], gts, None, labels)
    cost = ATSSAssigner(topk=3, alpha=1.0).assign(
        anchors, [40], gts, None, labels,
        torch.randn(40, 2, generator=g), anchors,
    )  # fmt: skip
    assert torch.equal(plain.gt_inds, cost.gt_inds)
    with pytest.raises(InvalidArgumentError):
        ATSSAssigner(topk=3, alpha=0.5).assign(anchors, [40], gts, None)


@pytest.mark.parametrize(
    'name', ['ld_r18_gflv1_r101_fpn_coco_1x', 'ld_r50_gflv1_r101_fpn_coco_1x']
)
def test_ld_configs_build_mmdets_student_and_teacher(name, monkeypatch):
    """MMDetection 2.28.2's reference has no LD entry (its teacher config
    path is relative to the working directory); these numbers were taken
    from it run in a folder holding its configs, teacher_ckpt=None."""
    import gzip
    import json
    import os.path as osp

    from mmcv import Config

    from mmdet.analysis.config_check import without_pretrained

    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    with gzip.open(
        osp.join(root, 'tests/data/reference/ld_students_mmdet228.json.gz')
    ) as f:
        ref = json.load(f)[f'ld/{name}.py']
    monkeypatch.chdir(root)  # teacher_config is relative to it
    cfg = Config.fromfile(f'configs/ld/{name}.py')
    model = build_detector(
        without_pretrained(cfg._cfg_dict.to_dict()['model'])
    )
    shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert shapes == ref['state_dict']
    assert sum(p.numel() for p in model.parameters()) == ref['params']
    teacher = sum(p.numel() for p in model.teacher_model.parameters())
    assert teacher == ref['teacher_params']


ODCONV_STOCK = {
    'vfnet_odconv4x_r50_fpn_1x_coco': 'vfnet/vfnet_r50_fpn_1x_coco.py',
    'tood_odconv4x_r50_fpn_1x_coco': 'tood/tood_r50_fpn_1x_coco.py',
    'gfl_odconv4x_r50_fpn_1x_coco': 'gfl/gfl_r50_fpn_1x_coco.py',
    'ddod_odconv4x_r50_fpn_1x_coco': 'ddod/ddod_r50_fpn_1x_coco.py',
    'ld_odconv4x_r50_gflv1_r101_fpn_coco_1x': (
        'ld/ld_r50_gflv1_r101_fpn_coco_1x.py'
    ),
}


@pytest.mark.slow  # builds five OD-ResNet-50 detectors (~15 s each)
@pytest.mark.parametrize('name', sorted(ODCONV_STOCK))
def test_odconv_variant_is_the_stock_detector_with_od_resnet(
    name, monkeypatch
):
    """Everything but the backbone has MMDetection's stock keys and shapes
    (MMDetection's reference; LD: the student numbers above); the count is
    params.json's (stock count + the OD-ResNet-50 offset)."""
    import gzip
    import json
    import os.path as osp

    from mmcv import Config

    from mmdet.analysis.config_check import without_pretrained

    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    ref_dir = osp.join(root, 'tests', 'data', 'reference')
    stock = ODCONV_STOCK[name]
    ref_file = (
        'ld_students_mmdet228.json.gz'
        if stock.startswith('ld/')
        else 'mmdet228_configs.json.gz'
    )
    with gzip.open(osp.join(ref_dir, ref_file)) as f:
        ref = json.load(f)[stock]
    with open(osp.join(ref_dir, 'params.json')) as f:
        params = json.load(f)['detectors'][name]
    monkeypatch.chdir(root)
    cfg = Config.fromfile(f'configs/odconv/{name}.py')
    assert cfg.model.backbone.type == 'OD_ResNet'
    model = build_detector(
        without_pretrained(cfg._cfg_dict.to_dict()['model'])
    )
    shapes = {
        k: list(v.shape)
        for k, v in model.state_dict().items()
        if not k.startswith('backbone.')
    }
    expected = {
        k: v for k, v in ref['state_dict'].items()
        if not k.startswith('backbone.')
    }  # fmt: skip
    assert shapes == expected
    assert sum(p.numel() for p in model.parameters()) == params
