"""The runtime end to end through the command-line tools, on a micro model:
training with checkpoints and evaluation, MMDetection 2.x log formats,
resuming a killed run (--resume-from and --auto-resume) with the same lr
schedule, and single- vs two-process testing giving identical results."""

import json
import os
import os.path as osp
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from mmdet.testing import make_tiny_coco

ROOT = osp.dirname(osp.dirname(osp.dirname(__file__)))
CONFIG = osp.join(
    ROOT, 'tests', 'data', 'configs', 'micro_mask_rcnn_tiny_coco.py'
)
ITERS_PER_EPOCH = 4  # 8 training images, 2 per batch


def run(cmd, timeout=600, check=True):
    # this checkout's mmdet (not another installed one), and crash_hook
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([ROOT, osp.join(ROOT, 'tests', 'data')]),
        OMP_NUM_THREADS='1',
        PYTHON=sys.executable,
    )
    proc = subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f'{cmd} failed ({proc.returncode}):\n'
            f'{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}'
        )
    return proc


@pytest.fixture(scope='module')
def data_options(tmp_path_factory):
    root = tmp_path_factory.mktemp('tiny')
    make_tiny_coco(str(root), seed=0, num_train=8, num_val=4, size=64)
    opts = []
    for split, key in (('train', 'train'), ('val', 'val'), ('val', 'test')):
        opts += [
            f'data.{key}.ann_file={root}/annotations/instances_{split}.json',
            f'data.{key}.img_prefix={root}/{split}/',
        ]
    return opts


def train(work_dir, data_options, *extra):
    return run(
        [
            sys.executable,
            'tools/train.py',
            CONFIG,
            '--work-dir',
            str(work_dir),
            '--seed',
            '0',
            '--cfg-options',
            *data_options,
            *extra,
        ]
    )


def log_records(work_dir):
    path = sorted(f for f in os.listdir(work_dir) if f.endswith('.log.json'))[
        -1
    ]
    with open(osp.join(work_dir, path)) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    return [r for r in lines if 'mode' in r]


@pytest.fixture(scope='module')
def trained(tmp_path_factory, data_options):
    work_dir = tmp_path_factory.mktemp('work')
    train(work_dir, data_options)
    return work_dir


def test_training_writes_checkpoints_and_logs(trained):
    files = set(os.listdir(trained))
    assert {'epoch_1.pth', 'epoch_2.pth', 'latest.pth'} <= files
    assert not any('.tmp.' in f for f in files)
    ckpt = torch.load(osp.join(trained, 'latest.pth'), weights_only=True)
    assert ckpt['meta']['epoch'] == 2
    assert ckpt['meta']['iter'] == 2 * ITERS_PER_EPOCH
    assert ckpt['meta']['CLASSES'] == ('circle', 'square', 'triangle', 'cross')
    assert 'optimizer' in ckpt

    records = log_records(trained)
    train_recs = [r for r in records if r['mode'] == 'train']
    assert len(train_recs) == 2 * ITERS_PER_EPOCH
    for key in (
        'epoch',
        'iter',
        'lr',
        'time',
        'data_time',
        'memory',
        'loss_rpn_cls',
        'loss_rpn_bbox',
        'loss_cls',
        'acc',
        'loss_bbox',
        'loss_mask',
        'loss',
        'grad_norm',
    ):
        assert key in train_recs[0], key
    val_recs = [r for r in records if r['mode'] == 'val']
    assert [r['epoch'] for r in val_recs] == [1, 2]
    for key in ('bbox_mAP', 'bbox_mAP_50', 'segm_mAP', 'segm_mAP_l'):
        assert key in val_recs[0]

    text_log = [f for f in os.listdir(trained) if f.endswith('.log')][0]
    with open(osp.join(trained, text_log)) as f:
        text = f.read()
    assert 'Epoch [1][4/4]\tlr: ' in text
    # (mmcv prints `memory` in the text log only with CUDA; the .log.json
    # has it on every device, checked above)
    assert 'time: ' in text and 'data_time: ' in text
    assert 'Epoch(val) [2][4]\tbbox_mAP: ' in text
    assert 'Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all' in text


def _lrs_of_epoch(records, epoch):
    return [
        r['lr']
        for r in records
        if r['mode'] == 'train' and r['epoch'] == epoch
    ]


@pytest.mark.parametrize('how', ['resume_from', 'auto_resume'])
def test_killed_run_resumes_with_same_schedule(
    tmp_path, data_options, trained, how
):
    work_dir = tmp_path / 'work'
    crash_cfg = tmp_path / 'crash.py'
    crash_cfg.write_text(
        f'_base_ = [{CONFIG!r}]\n'
        "custom_imports = dict(imports=['crash_hook'])\n"
        'custom_hooks = [dict(type="NumClassCheckHook"), dict(type='
        f'"CrashHook", at_iter={ITERS_PER_EPOCH + 2})]\n'
    )
    # killed in the middle of epoch 2
    proc = run(
        [
            sys.executable,
            'tools/train.py',
            str(crash_cfg),
            '--work-dir',
            str(work_dir),
            '--seed',
            '0',
            '--cfg-options',
            *data_options,
        ],
        check=False,
    )
    assert proc.returncode == 137, proc.stderr[-2000:]
    files = set(os.listdir(work_dir))
    assert 'epoch_1.pth' in files and 'epoch_2.pth' not in files
    assert not any('.tmp.' in f for f in files)

    if how == 'resume_from':
        train(
            work_dir,
            data_options,
            '--resume-from',
            str(work_dir / 'latest.pth'),
        )
    else:
        train(work_dir, data_options, '--auto-resume')
    ckpt = torch.load(work_dir / 'epoch_2.pth', weights_only=True)
    assert ckpt['meta']['epoch'] == 2
    assert ckpt['meta']['iter'] == 2 * ITERS_PER_EPOCH
    resumed = log_records(work_dir)  # the newest log: the resumed run
    assert {r['epoch'] for r in resumed if r['mode'] == 'train'} == {2}
    want = _lrs_of_epoch(log_records(trained), 2)
    assert _lrs_of_epoch(resumed, 2) == pytest.approx(want)
    assert want[0] < _lrs_of_epoch(log_records(trained), 1)[-1]


def test_missing_pretrained_stops_early_with_help(tmp_path, data_options):
    proc = run(
        [
            sys.executable,
            'tools/train.py',
            CONFIG,
            '--work-dir',
            str(tmp_path / 'w'),
            '--cfg-options',
            *data_options,
            'model.pretrained=checkpoints/imagenet/nothing_here.pth',
        ],
        check=False,
    )
    assert proc.returncode != 0
    assert 'checkpoints/imagenet/nothing_here.pth' in proc.stderr
    assert 'model.pretrained=None' in proc.stderr
    assert not osp.exists(tmp_path / 'w')  # stopped before anything ran


def _load(path):
    with open(path, 'rb') as f:
        return pickle.load(f)


def _assert_same_results(a, b):
    assert len(a) == len(b)
    for (bbox_a, segm_a), (bbox_b, segm_b) in zip(a, b):
        for x, y in zip(bbox_a, bbox_b):
            np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-4)
        assert segm_a == segm_b


def test_single_and_two_process_testing_agree(tmp_path, trained, data_options):
    ckpt = str(trained / 'latest.pth')
    single = tmp_path / 'single.pkl'
    proc1 = run(
        [
            sys.executable,
            'tools/test.py',
            CONFIG,
            ckpt,
            '--out',
            str(single),
            '--eval',
            'bbox',
            'segm',
            '--cfg-options',
            *data_options,
        ]
    )
    double = tmp_path / 'double.pkl'
    proc2 = run(
        [
            'bash',
            'tools/dist_test.sh',
            CONFIG,
            ckpt,
            '2',
            '--out',
            str(double),
            '--eval',
            'bbox',
            'segm',
            '--cfg-options',
            *data_options,
        ],
        check=True,
    )
    _assert_same_results(_load(single), _load(double))

    def metrics(stdout):
        line = [
            ln
            for ln in stdout.splitlines()
            if ln.startswith('OrderedDict') or ln.startswith('{')
        ][-1]
        return line

    assert metrics(proc1.stdout) == metrics(proc2.stdout)
    assert 'bbox_mAP_copypaste' in proc1.stdout


def test_dist_train_two_cpu_processes(tmp_path, data_options):
    work_dir = tmp_path / 'dist'
    proc = run(
        [
            'bash',
            'tools/dist_train.sh',
            CONFIG,
            '2',
            '--work-dir',
            str(work_dir),
            '--cfg-options',
            *data_options,
            'runner.max_epochs=1',
        ]
    )
    ckpt = torch.load(work_dir / 'epoch_1.pth', weights_only=True)
    # each of the 2 processes takes half of the images, 2 per batch; the
    # group sampler pads each aspect-ratio group to a multiple of 2 x 2
    assert (
        ITERS_PER_EPOCH // 2
        <= ckpt['meta']['iter']
        <= ITERS_PER_EPOCH // 2 + 1
    )
    text = (
        work_dir / [f for f in os.listdir(work_dir) if f.endswith('.log')][0]
    ).read_text()
    assert 'Distributed training: True' in text
    assert 'Epoch(val) [1]' in text and 'bbox_mAP: ' in text
    assert proc.returncode == 0


def test_test_tool_outputs(tmp_path, trained, data_options):
    ckpt = str(trained / 'latest.pth')
    show_dir = tmp_path / 'vis'
    proc = run(
        [
            sys.executable,
            'tools/test.py',
            CONFIG,
            ckpt,
            '--eval',
            'bbox',
            'segm',
            '--out',
            str(tmp_path / 'r.pkl'),
            '--show-dir',
            str(show_dir),
            '--show-score-thr',
            '0.0',
            '--cfg-options',
            *data_options,
        ]
    )
    results = _load(tmp_path / 'r.pkl')
    assert len(results) == 4 and len(results[0][0]) == 4  # images, classes
    assert sorted(os.listdir(show_dir)) == [
        f'{i:06d}.jpg' for i in range(1, 5)
    ]
    # the progress bar and the COCO summary table
    assert '4/4' in proc.stdout and 'task/s' in proc.stdout
    assert 'Average Precision  (AP) @[ IoU=0.50:0.95' in proc.stdout
    assert 'segm_mAP_copypaste' in proc.stdout

    prefix = tmp_path / 'coco_results'
    run(
        [
            sys.executable,
            'tools/test.py',
            CONFIG,
            ckpt,
            '--format-only',
            '--eval-options',
            f'jsonfile_prefix={prefix}',
            '--cfg-options',
            *data_options,
        ]
    )
    with open(f'{prefix}.bbox.json') as f:
        dets = json.load(f)
    assert dets and set(dets[0]) == {
        'image_id',
        'bbox',
        'score',
        'category_id',
    }
    with open(f'{prefix}.segm.json') as f:
        segms = json.load(f)
    assert set(segms[0]['segmentation']) == {'size', 'counts'}
