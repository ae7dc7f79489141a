"""``tools/misc/check_mmdet_configs.py`` and ``mmdet.analysis.config_check``
on a small tree written here: a config that builds, trains and tests, one
with an unknown backbone type, one that differs from a (fake) reference in
one shape, one with an unregistered pipeline step, and a fragment without a
model. The slow test runs it over MMDetection 2.28.2's own tree."""

import glob
import gzip
import json
import os
import os.path as osp
import subprocess
import sys
import zipfile

import pytest
import torch

from mmdet.analysis.config_check import (
    check_tree,
    folder_counts,
    format_report,
    load_reference,
)

ROOT = osp.dirname(osp.dirname(osp.dirname(__file__)))
TOOL = osp.join(ROOT, 'tools', 'misc', 'check_mmdet_configs.py')

# a small RetinaNet (ResNet-18, 2 FPN levels used by the head)
MODEL = """
model = dict(
    type='RetinaNet',
    backbone=dict(type='{backbone}', depth=18, num_stages=4,
                  out_indices=(1, 2, 3), norm_eval=False,
                  init_cfg=dict(type='Pretrained', checkpoint='nowhere')),
    neck=dict(type='FPN', in_channels=[128, 256, 512], out_channels=32,
              start_level=0, add_extra_convs='on_input', num_outs=5),
    bbox_head=dict(
        type='RetinaHead', num_classes=3, in_channels=32,
        stacked_convs=1, feat_channels=32,
        anchor_generator=dict(type='AnchorGenerator', octave_base_scale=4,
                              scales_per_octave=1, ratios=[1.0],
                              strides=[8, 16, 32, 64, 128]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder',
                        target_means=[.0, .0, .0, .0],
                        target_stds=[1.0, 1.0, 1.0, 1.0]),
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0,
                      alpha=0.25, loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
    train_cfg=dict(
        assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5,
                      neg_iou_thr=0.4, min_pos_iou=0, ignore_iof_thr=-1),
        allowed_border=-1, pos_weight=-1, debug=False),
    test_cfg=dict(nms_pre=100, min_bbox_size=0, score_thr=0.05,
                  nms=dict(type='nms', iou_threshold=0.5),
                  max_per_img=10))
"""
DATA = """
data = dict(train=dict(type='CocoDataset', pipeline=[
    dict(type='LoadImageFromFile'), dict(type='{step}'),
    dict(type='MultiScaleFlipAug', transforms=[dict(type='Resize')])]))
"""


@pytest.fixture(scope='module')
def tree(tmp_path_factory):
    """The config tree: good/, bad/ and fragments/ folders."""
    root = tmp_path_factory.mktemp('configs')
    files = {
        'good/retina.py': MODEL.format(backbone='ResNet')
        + DATA.format(step='RandomFlip'),
        'good/retina_diff.py': "_base_ = './retina.py'\n",
        'bad/unknown.py': MODEL.format(backbone='NoSuchNet'),
        'bad/data.py': "_base_ = '../good/retina.py'\n"
        + DATA.format(step='NoSuchTransform'),
        'fragments/schedule.py': 'total_epochs = 1\n',
        '_base_/ignored.py': 'this is not python',
    }
    for rel, text in files.items():
        os.makedirs(osp.dirname(root / rel), exist_ok=True)
        (root / rel).write_text(text)
    return str(root)


@pytest.fixture(scope='module')
def reference(tree, tmp_path_factory):
    """A reference where good/retina.py matches the built model and
    good/retina_diff.py differs in one shape."""
    results = check_tree(tree, 'good/retina.py')
    from mmcv import Config

    from mmdet.analysis.config_check import without_pretrained
    from mmdet.models import build_detector

    cfg = Config.fromfile(osp.join(tree, 'good', 'retina.py'))
    model_cfg = without_pretrained(cfg._cfg_dict.to_dict()['model'])
    model = build_detector(Config(dict(model=model_cfg)).model)
    state = {k: list(v.shape) for k, v in model.state_dict().items()}
    entry = dict(params=results[0]['params'], state_dict=state)
    wrong = dict(state, **{'neck.fpn_convs.0.conv.weight': [32, 32, 1, 1]})
    ref = {
        'good/retina.py': entry,
        'good/retina_diff.py': dict(entry, state_dict=wrong),
    }
    path = tmp_path_factory.mktemp('ref') / 'ref.json.gz'
    with gzip.open(path, 'wt') as f:
        json.dump(ref, f)
    return str(path)


def by_config(results):
    return {r['config']: r for r in results}


def test_statuses_and_reasons(tree, reference):
    results = by_config(check_tree(tree, reference=load_reference(reference)))
    assert sorted(results) == [
        'bad/data.py',
        'bad/unknown.py',
        'fragments/schedule.py',
        'good/retina.py',
        'good/retina_diff.py',
    ]
    assert results['good/retina.py']['status'] == 'OK'
    assert results['good/retina.py']['params'] > 0
    unknown = results['bad/unknown.py']
    assert (unknown['status'], unknown['stage']) == ('FAIL', 'build')
    assert "'NoSuchNet' is not in the 'models' registry" in unknown['reason']
    assert 'Registered:' not in unknown['reason']
    diff = results['good/retina_diff.py']
    assert diff['status'] == 'DIFF'
    assert (
        'neck.fpn_convs.0.conv.weight [32, 32, 3, 3] vs [32, 32, 1, 1]'
        in (diff['reason'])
    )
    # a data problem is reported apart: the model still builds
    data = results['bad/data.py']
    assert data['status'] == 'OK'
    assert data['data_missing'] == ['NoSuchTransform']
    assert results['good/retina.py']['data_missing'] == []
    assert results['fragments/schedule.py']['status'] == 'NOMODEL'
    counts = folder_counts(list(results.values()))
    assert counts['bad'] == dict(
        OK=1, DIFF=0, FAIL=1, NOMODEL=0, total=2, data_missing=1
    )
    assert counts['good']['OK'] == 1 and counts['good']['DIFF'] == 1
    report = format_report(list(results.values()))
    assert 'unregistered model types: NoSuchNet (1)' in report
    assert 'unregistered data types: NoSuchTransform (1)' in report


def test_train_step_runs_and_reports_failures(tree):
    results = by_config(check_tree(tree, 'good/retina.py', train_step=True))
    assert results['good/retina.py']['status'] == 'OK'
    # anchors for 3 levels under a 5-level neck: builds, fails to train
    broken = osp.join(tree, 'good', 'retina_broken.py')
    with open(broken, 'w') as f:
        f.write("_base_ = './retina.py'\n")
        f.write(
            'model = dict(bbox_head=dict(anchor_generator=dict('
            'strides=[8, 16, 32])))\n'
        )
    try:
        result = check_tree(tree, 'good/retina_broken.py', train_step=True)
    finally:
        os.remove(broken)
    assert result[0]['status'] == 'FAIL'
    assert result[0]['stage'] == 'train/test'
    assert result[0]['reason']


def test_train_step_feeds_htc_its_semantic_map():
    """HTC's semantic branch trains on gt_semantic_seg: the random batch
    carries one when the model has a semantic head."""
    configs = osp.join(ROOT, 'configs')
    [result] = check_tree(
        configs, 'htc/htc_r50_fpn_1x_coco.py', train_step=True
    )
    assert result['status'] == 'OK', result.get('reason')


def test_panoptic_batch_map():
    """Thing boxes carry their labels, the rest stuff labels or 255."""
    from mmdet.analysis.config_check import panoptic_seg, random_batch

    batch = random_batch(80, with_masks=True)
    seg = panoptic_seg(batch, 80, 53)
    assert seg.shape == (2, 1) + batch['img'].shape[-2:]
    x1, y1, x2, y2 = batch['gt_bboxes'][0][-1].long().tolist()
    assert (seg[0, 0, y1:y2, x1:x2] == batch['gt_labels'][0][-1]).all()
    things = torch.zeros_like(seg, dtype=torch.bool)
    for i, boxes in enumerate(batch['gt_bboxes']):
        for x1, y1, x2, y2 in boxes.long().tolist():
            things[i, 0, y1:y2, x1:x2] = True
    rest = seg[~things]
    assert (((rest >= 80) & (rest < 133)) | (rest == 255)).all()
    assert (rest == 255).any() and (rest < 255).any()


@pytest.mark.slow
@pytest.mark.parametrize(
    'config',
    [
        'panoptic_fpn/panoptic_fpn_r50_fpn_1x_coco.py',
        'mask2former/mask2former_r50_lsj_8x2_50e_coco-panoptic.py',
    ],
)
def test_train_step_feeds_panoptic_models_their_map(config):
    """Panoptic models train on a full-size gt_semantic_seg (a minute
    each on a CPU)."""
    [result] = check_tree(osp.join(ROOT, 'configs'), config, train_step=True)
    assert result['status'] == 'OK', result.get('reason')


def test_train_step_gives_rpn_only_what_it_takes():
    """The RPN detector's forward_train takes no gt_labels (as in
    MMDetection 2.28): the random batch leaves them out."""
    [result] = check_tree(
        osp.join(ROOT, 'configs'),
        'rpn/rpn_r50_fpn_1x_coco.py',
        train_step=True,
    )
    assert result['status'] == 'OK', result.get('reason')


def test_train_step_meta_has_the_crop_border():
    """CenterNet's test reads img_meta['border'] (set by the test
    pipeline's RandomCenterCropPad): the random batch carries one."""
    [result] = check_tree(
        osp.join(ROOT, 'configs'),
        'centernet/centernet_resnet18_140e_coco.py',
        train_step=True,
    )
    assert result['status'] == 'OK', result.get('reason')


def test_train_step_gives_fast_rcnn_proposals():
    """Fast R-CNN (no RPN) reads proposals: the random batch carries
    them for training and test."""
    [result] = check_tree(
        osp.join(ROOT, 'configs'),
        'fast_rcnn/fast_rcnn_r50_fpn_1x_coco.py',
        train_step=True,
    )
    assert result['status'] == 'OK', result.get('reason')


def test_train_cfg_outside_the_model_is_used(tmp_path):
    """MMDetection 1.x-style configs (e.g. ga_retinanet_r101_caffe_fpn_
    mstrain_2x) keep train_cfg / test_cfg at the top level; the guided
    anchoring head cannot train without its train_cfg."""
    from mmcv import Config

    cfg = Config.fromfile(
        osp.join(
            ROOT, 'configs/guided_anchoring/ga_retinanet_r50_fpn_1x_coco.py'
        )
    )
    cfg.train_cfg = cfg.model.pop('train_cfg')
    cfg.test_cfg = cfg.model.pop('test_cfg')
    os.makedirs(tmp_path / 'ga')
    cfg.dump(str(tmp_path / 'ga' / 'outer_cfg.py'))
    [result] = check_tree(str(tmp_path), 'ga/outer_cfg.py', train_step=True)
    assert result['status'] == 'OK', result.get('reason')


def test_command_line(tree, reference, tmp_path):
    out = tmp_path / 'report.json'
    env = dict(os.environ, PYTHONPATH=ROOT)
    cmd = [sys.executable, TOOL, tree, '--out', str(out)]
    cmd += ['--reference', reference, '--filter', '*/*.py']
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert 'FAIL bad/unknown.py [build]' in proc.stdout
    assert 'DIFF good/retina_diff.py [compare]' in proc.stdout
    row = next(x for x in proc.stdout.splitlines() if x.startswith('bad '))
    assert row.split() == ['bad', '2', '1', '0', '1', '0', '1']
    report = json.loads(out.read_text())
    assert report['folders']['good']['DIFF'] == 1
    assert report['missing_model_types'] == {'NoSuchNet': 1}
    assert len(report['results']) == 5
    help_text = subprocess.run(
        [sys.executable, TOOL, '--help'],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    ).stdout
    assert 'pip download mmdet==2.28.2 --no-deps' in help_text


def mmdet228_tree():
    """MMDetection 2.28.2's config tree: $MMDET228_CONFIGS, or unpacked
    from its wheel (downloaded with pip) into a cache folder."""
    given = os.environ.get('MMDET228_CONFIGS')
    if given:
        return given
    cache = osp.join(
        os.environ.get('XDG_CACHE_HOME', osp.expanduser('~/.cache')),
        'mmdet228_configs',
    )
    configs = osp.join(cache, 'mmdet', '.mim', 'configs')
    if osp.isdir(configs):
        return configs
    cmd = [sys.executable, '-m', 'pip', 'download', 'mmdet==2.28.2']
    cmd += ['--no-deps', '-d', cache]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    wheels = glob.glob(osp.join(cache, 'mmdet-2.28.2-*.whl'))
    if proc.returncode or not wheels:
        pytest.fail(
            'could not download mmdet==2.28.2 with pip (needs PyPI); set '
            'MMDET228_CONFIGS to an unpacked mmdet/.mim/configs instead:\n'
            + proc.stderr[-2000:]
        )
    with zipfile.ZipFile(wheels[0]) as wheel:
        names = [n for n in wheel.namelist() if '/.mim/configs/' in n]
        wheel.extractall(cache, names)
    return configs


@pytest.mark.slow
def test_mmdetection_tree():
    """Every MMDetection 2.28.2 config is built; none that builds differs
    from the reference, and every stock config of configs/ builds, trains
    and tests."""
    root = mmdet228_tree()
    ref = load_reference(
        osp.join(
            ROOT, 'tests', 'data', 'reference', 'mmdet228_configs.json.gz'
        )
    )
    results = check_tree(root, reference=ref)
    assert len(results) == 634
    diffs = [r['config'] for r in results if r['status'] == 'DIFF']
    assert diffs == []
    ours = glob.glob(osp.join(ROOT, 'configs', '*', '*.py'))
    ours = {osp.relpath(p, osp.join(ROOT, 'configs')) for p in ours}
    stock = sorted(ours & {r['config'] for r in results})
    trained = by_config(
        r for rel in stock for r in check_tree(root, rel, ref, train_step=True)
    )
    failed = {
        k: r['reason'] for k, r in trained.items() if r['status'] != 'OK'
    }
    assert failed == {}


def test_reason_is_the_first_non_empty_line():
    from mmdet.analysis.config_check import first_line

    assert first_line(ImportError()) == 'ImportError: (no message)'
    assert first_line(KeyError('\n"outer: \'inner\'"\nmore')) == (
        "KeyError: outer: 'inner'"
    )


def test_pretrained_weights_and_teacher_checkpoint_are_switched_off():
    from mmdet.analysis.config_check import without_pretrained

    cfg = dict(
        type='KnowledgeDistillationSingleStageDetector',
        teacher_ckpt='https://example.invalid/teacher.pth',
        backbone=dict(
            init_cfg=dict(type='Pretrained', checkpoint='torchvision://x')
        ),
        pretrained='torchvision://y',
    )
    out = without_pretrained(cfg)
    assert out['teacher_ckpt'] is None
    assert out['pretrained'] is None
    assert out['backbone']['init_cfg'] is None
    assert cfg['teacher_ckpt'].startswith('https://')  # input untouched
