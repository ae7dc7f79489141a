"""Runtime faults through the public tools and APIs, on a micro model: a
diverging run, late evaluation errors, wrong config values, checkpoints
that cannot be resumed or hold NaN, leftovers of killed runs."""

import importlib.util
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from mmdet import apis
from mmdet.apis.builders import load_config
from mmdet.models import build_detector
from mmdet.testing.tiny_coco import make_tiny_coco

ROOT = osp.dirname(osp.dirname(osp.dirname(__file__)))
CONFIG = osp.join(
    ROOT, 'tests', 'data', 'configs', 'micro_mask_rcnn_tiny_coco.py'
)


def run(cmd, timeout=600):
    # this checkout's mmdet, whatever is installed
    path = os.pathsep.join([ROOT, osp.join(ROOT, 'tests', 'data')])
    env = dict(os.environ, PYTHONPATH=path, OMP_NUM_THREADS='1')
    return subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    """``--cfg-options`` pointing the micro config at a generated set, as a
    list of ``key=value`` strings and as a dict."""
    root = tmp_path_factory.mktemp('tiny')
    make_tiny_coco(str(root), seed=0, num_train=8, num_val=4, size=64)
    opts = {}
    for split, key in (('train', 'train'), ('val', 'val'), ('val', 'test')):
        opts[f'data.{key}.ann_file'] = (
            f'{root}/annotations/instances_{split}.json'
        )
        opts[f'data.{key}.img_prefix'] = f'{root}/{split}/'
    return dict(args=[f'{k}={v}' for k, v in opts.items()], dict=opts)


@pytest.fixture(scope='module')
def random_checkpoint(tmp_path_factory):
    """A checkpoint of the micro model at its random initialisation."""
    cfg = load_config(CONFIG, check=True)
    cfg.model.train_cfg = None
    model = build_detector(cfg.model, test_cfg=cfg.get('test_cfg'))
    path = tmp_path_factory.mktemp('ckpt') / 'random.pth'
    torch.save(
        dict(
            meta=dict(CLASSES=('circle', 'square', 'triangle', 'cross')),
            state_dict=model.state_dict(),
        ),
        path,
    )
    return path


def _tensors_finite(path):
    ckpt = torch.load(path, weights_only=True)
    return all(
        torch.isfinite(v).all()
        for v in ckpt['state_dict'].values()
        if v.is_floating_point()
    )


# -- item 2: non-finite loss or gradient norm ---------------------------


def test_diverging_run_stops_and_saves_nothing_non_finite(tmp_path, data):
    """lr x 1e8 after epoch 1 makes epoch 2 diverge (its last two steps
    are non-finite); one non-finite step may be skipped, the second stops
    the run."""
    work_dir = tmp_path / 'work'
    proc = run(
        [
            sys.executable,
            'tools/train.py',
            CONFIG,
            '--work-dir',
            str(work_dir),
            '--seed',
            '0',
            '--no-validate',
            '--cfg-options',
            *data['args'],
            'lr_config.gamma=1e8',
            'skip_nonfinite_steps=1',
        ]
    )
    assert proc.returncode != 0
    err = proc.stderr
    assert 'NonFiniteTrainingError' in err and 'not finite' in err
    assert 'at epoch 2, iteration' in err
    assert 'loss terms: loss_rpn_cls=' in err and 'loss_mask=' in err
    assert f'last good checkpoint is {work_dir}/epoch_1.pth' in err
    assert '1 earlier step(s) were skipped' in err
    log = (
        work_dir / [f for f in os.listdir(work_dir) if f.endswith('.log')][0]
    ).read_text()
    assert 'step skipped (1 of at most 1' in log
    assert 'step skipped (2 of' not in log
    files = set(os.listdir(work_dir))
    assert 'epoch_1.pth' in files and 'epoch_2.pth' not in files
    assert _tensors_finite(work_dir / 'latest.pth')


# -- item 7: late evaluation errors -------------------------------------


def _no_inference(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError('inference ran before the check')

    monkeypatch.setattr('mmdet.apis.entrypoints.single_gpu_test', refuse)


def test_unknown_test_metric_fails_before_inference(
    monkeypatch, data, random_checkpoint
):
    _no_inference(monkeypatch)
    with pytest.raises(ValueError, match="'bbbox'.*Did you mean 'bbox'"):
        apis.test_from_config(
            CONFIG,
            str(random_checkpoint),
            eval=['bbbox'],
            cfg_options=data['dict'],
        )
    with pytest.raises(
        ValueError, match="'clswise'.*Did you mean 'classwise'"
    ):
        apis.test_from_config(
            CONFIG,
            str(random_checkpoint),
            eval=['bbox'],
            eval_options=dict(clswise=True),
            cfg_options=data['dict'],
        )


@pytest.mark.parametrize(
    'option, match',
    [
        (
            dict(**{'evaluation.metirc': 'bbox'}),
            "'metirc'.*Did you mean 'metric'",
        ),
        (
            dict(**{'evaluation.metric': ['bbox', 'segmm']}),
            "'segmm'.*Did you mean 'segm'",
        ),
    ],
)
def test_bad_evaluation_config_fails_before_training(
    tmp_path, data, option, match
):
    work_dir = tmp_path / 'work'
    with pytest.raises(ValueError, match=match):
        apis.train_from_config(
            CONFIG,
            work_dir=str(work_dir),
            seed=0,
            cfg_options={**data['dict'], **option},
        )
    assert not work_dir.exists()


# -- item 10: unclear errors --------------------------------------------


def test_string_numbers_name_the_key(tmp_path, data):
    cfg = tmp_path / 'str_lr.py'
    cfg.write_text(f'_base_ = [{CONFIG!r}]\noptimizer = dict(lr=\'0.02\')\n')
    with pytest.raises(
        TypeError,
        match=r"optimizer\.lr = '0\.02'.*must be "
        r'a number.*optimizer\.lr=0\.02',
    ):
        apis.train_from_config(
            str(cfg), work_dir=str(tmp_path / 'w1'), cfg_options=data['dict']
        )
    with pytest.raises(
        TypeError,
        match=r"data\.samples_per_gpu = 'two'.*"
        'must be an integer',
    ):
        apis.train_from_config(
            CONFIG,
            work_dir=str(tmp_path / 'w2'),
            cfg_options={**data['dict'], 'data.samples_per_gpu': 'two'},
        )
    assert not (tmp_path / 'w1').exists() and not (tmp_path / 'w2').exists()


def _load_tool(name):
    spec = importlib.util.spec_from_file_location(
        f'tool_{name}', osp.join(ROOT, 'tools', f'{name}.py')
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('tool', ['train', 'test'])
def test_cfg_option_without_equals_is_a_usage_error(capsys, tool):
    args = [CONFIG] + (['x.pth', '--eval', 'bbox'] if tool == 'test' else [])
    with pytest.raises(SystemExit) as exc:
        _load_tool(tool).parse_args(
            args + ['--cfg-options', 'optimizer.lr=0.01', 'model.pretrained']
        )
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--cfg-options: 'model.pretrained' is not key=value" in err


def test_one_sample_per_gpu_with_training_attention_bn(tmp_path, data):
    with pytest.raises(
        ValueError,
        match=r'samples_per_gpu = 1.*ODConv '
        r'attention BatchNorm.*norm_eval=True',
    ):
        apis.train_from_config(
            CONFIG,
            work_dir=str(tmp_path / 'w'),
            cfg_options={**data['dict'], 'data.samples_per_gpu': 1},
        )


def test_nan_checkpoint_is_refused_at_test_time(
    tmp_path, monkeypatch, data, random_checkpoint
):
    ckpt = torch.load(random_checkpoint, weights_only=True)
    key = 'roi_head.bbox_head.fc_cls.weight'
    ckpt['state_dict'][key][0, 0] = float('nan')
    path = tmp_path / 'diverged.pth'
    torch.save(ckpt, path)
    _no_inference(monkeypatch)
    with pytest.raises(
        ValueError,
        match=rf'diverged\.pth.*NaN or Inf.*'
        rf'1 of \d+ tensors \({key}\)',
    ):
        apis.test_from_config(
            CONFIG, str(path), eval=['bbox'], cfg_options=data['dict']
        )


def test_nan_checkpoint_is_refused_by_init_detector(
    tmp_path, data, random_checkpoint
):
    ckpt = torch.load(random_checkpoint, weights_only=True)
    key = 'rpn_head.rpn_cls.bias'
    ckpt['state_dict'][key][0] = float('inf')
    path = tmp_path / 'diverged.pth'
    torch.save(ckpt, path)
    with pytest.raises(ValueError, match=rf'diverged\.pth.*NaN or Inf.*{key}'):
        apis.init_detector(CONFIG, str(path), device='cpu')
    # the finite original loads
    apis.init_detector(CONFIG, random_checkpoint, device='cpu')


def test_top_level_key_typo_warns(tmp_path):
    cfg = tmp_path / 'typo.py'
    cfg.write_text(
        f'_base_ = [{CONFIG!r}]\noptimzer = dict(type=\'SGD\', lr=0.001)\n'
    )
    with pytest.warns(
        UserWarning, match="'optimzer'.*did you mean 'optimizer'"
    ):
        load_config(str(cfg), check=True)


# -- item 8: resume and load_from ---------------------------------------


def _train_records(work_dir, epoch):
    """(loss, loss_cls, loss_mask) of each logged iteration of ``epoch`` in
    the newest .log.json of ``work_dir``."""
    import json

    path = sorted(work_dir.glob('*.log.json'))[-1]
    records = [
        json.loads(line)
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    return [
        (r['loss'], r['loss_cls'], r['loss_mask'])
        for r in records
        if r.get('mode') == 'train' and r.get('epoch') == epoch
    ]


def test_resumed_run_repeats_the_uninterrupted_losses(tmp_path, data):
    """Epoch 2 resumed from epoch_1.pth draws the same flips, shuffles and
    RoI samples as the uninterrupted run (which also evaluated after
    epoch 1), so its losses are the same."""
    whole, first, resumed = (
        tmp_path / n for n in ('whole', 'first', 'resumed')
    )
    cmd = [sys.executable, 'tools/train.py', CONFIG, '--seed', '0']
    proc = run(
        cmd
        + [
            '--work-dir',
            str(whole),
            '--cfg-options',
            *data['args'],
            'evaluation.metric=bbox',
        ]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = run(
        cmd
        + [
            '--work-dir',
            str(first),
            '--no-validate',
            '--cfg-options',
            *data['args'],
            'runner.max_epochs=1',
        ]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = run(
        cmd
        + [
            '--work-dir',
            str(resumed),
            '--no-validate',
            '--resume-from',
            str(first / 'epoch_1.pth'),
            '--cfg-options',
            *data['args'],
        ]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    want = _train_records(whole, 2)
    assert len(want) == 4
    assert _train_records(resumed, 2) == want


def test_resume_from_weights_only_file_says_so(
    tmp_path, data, random_checkpoint
):
    with pytest.raises(
        RuntimeError,
        match=r'cannot resume from .*random\.pth'
        r'.*lacks the epoch and iteration .*and the optimizer '
        r'state.*load_from=',
    ):
        apis.train_from_config(
            CONFIG,
            work_dir=str(tmp_path / 'w'),
            resume_from=str(random_checkpoint),
            cfg_options=data['dict'],
        )


def test_load_from_mismatch_names_file_and_keys(
    tmp_path, data, random_checkpoint
):
    ckpt = torch.load(random_checkpoint, weights_only=True)
    del ckpt['state_dict']['rpn_head.rpn_cls.bias']
    ckpt['state_dict']['extra.weight'] = torch.zeros(1)
    path = tmp_path / 'other_model.pth'
    torch.save(ckpt, path)
    with pytest.raises(
        RuntimeError,
        match=r"load_from = '.*other_model\.pth'"
        r'(.|\n)*rpn_head\.rpn_cls\.bias(.|\n)*extra\.weight',
    ):
        apis.train_from_config(
            CONFIG,
            work_dir=str(tmp_path / 'w'),
            cfg_options={**data['dict'], 'load_from': str(path)},
        )
    path.write_text('not a checkpoint')
    with pytest.raises(
        RuntimeError,
        match=r'other_model\.pth.* is not a '
        'PyTorch checkpoint',
    ):
        apis.train_from_config(
            CONFIG,
            work_dir=str(tmp_path / 'w'),
            cfg_options={**data['dict'], 'load_from': str(path)},
        )


# -- item 11: leftovers of killed runs ----------------------------------


def _dead_pid():
    proc = subprocess.Popen([sys.executable, '-c', 'pass'])
    proc.wait()
    return proc.pid


def test_stale_tmp_files_are_removed_at_start(tmp_path, data):
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    stale = work_dir / f'epoch_3.pth.tmp.{_dead_pid()}'
    stale.write_bytes(b'half a checkpoint')
    live = work_dir / f'epoch_4.pth.tmp.{os.getpid()}'  # a running save
    live.write_bytes(b'being written')
    apis.train_from_config(
        CONFIG,
        work_dir=str(work_dir),
        seed=0,
        no_validate=True,
        cfg_options={**data['dict'], 'runner.max_epochs': 0},
    )
    assert not stale.exists()
    assert live.exists()


BIG_MASKS_CONFIG = '''_base_ = [{base!r}]
img_norm_cfg = dict(
    mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)
data = dict(
    samples_per_gpu=4,
    workers_per_gpu=2,
    train=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
        dict(type='Resize', img_scale=(256, 256), keep_ratio=True),
        dict(type='Normalize', **img_norm_cfg),
        dict(type='Pad', size_divisor=32),
        dict(type='DefaultFormatBundle'),
        dict(type='Collect', keys=['img', 'gt_bboxes', 'gt_labels',
                                   'gt_masks']),
    ]))
# temperature 1 from scratch overflows the gradient here (docs/odconv.md)
model = dict(backbone=dict(temperature=10.0))
runner = dict(max_epochs=1000)
'''


def _children(pid):
    kids = []
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open(f'/proc/{entry}/stat') as f:
                    fields = f.read().rsplit(')', 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                kids.append(int(entry))
    return kids


def _running(pid):
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='reads /proc')
def test_loader_workers_exit_when_the_trainer_is_killed(tmp_path):
    """Batches with 256-pixel masks, prefetched while the trainer trains,
    fill the workers' pipe to it: without the parent-death signal, workers
    of a killed trainer wait forever to flush it."""
    import signal
    import time

    root = tmp_path / 'big'
    make_tiny_coco(str(root), seed=0, num_train=40, num_val=1, size=256)
    cfg = tmp_path / 'big_masks.py'
    cfg.write_text(BIG_MASKS_CONFIG.format(base=CONFIG))
    work_dir = tmp_path / 'work'
    path = os.pathsep.join([ROOT, osp.join(ROOT, 'tests', 'data')])
    proc = subprocess.Popen(
        [
            sys.executable,
            'tools/train.py',
            str(cfg),
            '--work-dir',
            str(work_dir),
            '--seed',
            '0',
            '--no-validate',
            '--cfg-options',
            f'data.train.ann_file={root}/annotations/instances_train.json',
            f'data.train.img_prefix={root}/train/',
        ],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=path, OMP_NUM_THREADS='1'),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers = []
    try:
        deadline = time.time() + 600  # a first iteration, busy machine
        while time.time() < deadline and proc.poll() is None:
            logs = list(work_dir.glob('*.log')) if work_dir.exists() else []
            if logs and 'Epoch [1][1/10]' in logs[0].read_text():
                break
            time.sleep(0.5)
        workers = _children(proc.pid)
        assert proc.poll() is None and len(workers) == 2
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.time() + 15
        while time.time() < deadline and any(map(_running, workers)):
            time.sleep(0.2)
        assert not any(map(_running, workers))
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in workers:
            if _running(pid):
                os.kill(pid, signal.SIGKILL)
