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
from mmdet.apis.entrypoints import load_checked_config
from mmdet.datasets.tiny_coco import make_tiny_coco
from mmdet.models import build_detector

ROOT = osp.dirname(osp.dirname(osp.dirname(__file__)))
CONFIG = osp.join(ROOT, 'tests', 'data', 'configs',
                  'micro_mask_rcnn_tiny_coco.py')


def run(cmd, timeout=600):
    # this checkout's mmdet, whatever is installed
    path = os.pathsep.join([ROOT, osp.join(ROOT, 'tests', 'data')])
    env = dict(os.environ, PYTHONPATH=path, OMP_NUM_THREADS='1')
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    """``--cfg-options`` pointing the micro config at a generated set, as a
    list of ``key=value`` strings and as a dict."""
    root = tmp_path_factory.mktemp('tiny')
    make_tiny_coco(str(root), seed=0, num_train=8, num_val=4, size=64)
    opts = {}
    for split, key in (('train', 'train'), ('val', 'val'), ('val', 'test')):
        opts[f'data.{key}.ann_file'] = \
            f'{root}/annotations/instances_{split}.json'
        opts[f'data.{key}.img_prefix'] = f'{root}/{split}/'
    return dict(args=[f'{k}={v}' for k, v in opts.items()], dict=opts)


@pytest.fixture(scope='module')
def random_checkpoint(tmp_path_factory):
    """A checkpoint of the micro model at its random initialisation."""
    cfg = load_checked_config(CONFIG)
    cfg.model.train_cfg = None
    model = build_detector(cfg.model, test_cfg=cfg.get('test_cfg'))
    path = tmp_path_factory.mktemp('ckpt') / 'random.pth'
    torch.save(dict(meta=dict(CLASSES=('circle', 'square', 'triangle',
                                       'cross')),
                    state_dict=model.state_dict()), path)
    return path


def _tensors_finite(path):
    ckpt = torch.load(path, weights_only=True)
    return all(torch.isfinite(v).all() for v in ckpt['state_dict'].values()
               if v.is_floating_point())


# -- item 2: non-finite loss or gradient norm ---------------------------

def test_diverging_run_stops_and_saves_nothing_non_finite(tmp_path, data):
    """lr x 1e8 after epoch 1 makes epoch 2 diverge; two non-finite steps
    may be skipped, the third stops the run."""
    work_dir = tmp_path / 'work'
    proc = run([sys.executable, 'tools/train.py', CONFIG, '--work-dir',
                str(work_dir), '--seed', '0', '--no-validate',
                '--cfg-options', *data['args'], 'lr_config.gamma=1e8',
                'skip_nonfinite_steps=2'])
    assert proc.returncode != 0
    err = proc.stderr
    assert 'NonFiniteTrainingError' in err and 'not finite' in err
    assert 'at epoch 2, iteration' in err
    assert 'loss terms: loss_rpn_cls=' in err and 'loss_mask=' in err
    assert f'last good checkpoint is {work_dir}/epoch_1.pth' in err
    assert '2 earlier step(s) were skipped' in err
    log = (work_dir / [f for f in os.listdir(work_dir)
                       if f.endswith('.log')][0]).read_text()
    assert 'step skipped (1 of at most 2' in log
    assert 'step skipped (2 of at most 2' in log
    files = set(os.listdir(work_dir))
    assert 'epoch_1.pth' in files and 'epoch_2.pth' not in files
    assert _tensors_finite(work_dir / 'latest.pth')


# -- item 7: late evaluation errors -------------------------------------

def _no_inference(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError('inference ran before the check')
    monkeypatch.setattr('mmdet.apis.entrypoints.single_gpu_test', refuse)


def test_unknown_test_metric_fails_before_inference(
        monkeypatch, data, random_checkpoint):
    _no_inference(monkeypatch)
    with pytest.raises(ValueError, match="'bbbox'.*Did you mean 'bbox'"):
        apis.test_from_config(CONFIG, str(random_checkpoint), eval=['bbbox'],
                         cfg_options=data['dict'])
    with pytest.raises(ValueError, match="'clswise'.*Did you mean "
                       "'classwise'"):
        apis.test_from_config(CONFIG, str(random_checkpoint), eval=['bbox'],
                         eval_options=dict(clswise=True),
                         cfg_options=data['dict'])


@pytest.mark.parametrize('option, match', [
    (dict(**{'evaluation.metirc': 'bbox'}), "'metirc'.*Did you mean "
     "'metric'"),
    (dict(**{'evaluation.metric': ['bbox', 'segmm']}), "'segmm'.*Did you "
     "mean 'segm'"),
])
def test_bad_evaluation_config_fails_before_training(tmp_path, data, option,
                                                     match):
    work_dir = tmp_path / 'work'
    with pytest.raises(ValueError, match=match):
        apis.train_from_config(CONFIG, work_dir=str(work_dir), seed=0,
                          cfg_options={**data['dict'], **option})
    assert not work_dir.exists()


# -- item 10: unclear errors --------------------------------------------

def test_string_numbers_name_the_key(tmp_path, data):
    cfg = tmp_path / 'str_lr.py'
    cfg.write_text(f'_base_ = [{CONFIG!r}]\n'
                   "optimizer = dict(lr='0.02')\n")
    with pytest.raises(TypeError, match=r"optimizer\.lr = '0\.02'.*must be "
                       r'a number.*optimizer\.lr=0\.02'):
        apis.train_from_config(str(cfg), work_dir=str(tmp_path / 'w1'),
                          cfg_options=data['dict'])
    with pytest.raises(TypeError, match=r"data\.samples_per_gpu = 'two'.*"
                       'must be an integer'):
        apis.train_from_config(CONFIG, work_dir=str(tmp_path / 'w2'),
                          cfg_options={**data['dict'],
                                       'data.samples_per_gpu': 'two'})
    assert not (tmp_path / 'w1').exists() and not (tmp_path / 'w2').exists()


def _load_tool(name):
    spec = importlib.util.spec_from_file_location(
        f'tool_{name}', osp.join(ROOT, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('tool', ['train', 'test'])
def test_cfg_option_without_equals_is_a_usage_error(capsys, tool):
    args = [CONFIG] + (['x.pth', '--eval', 'bbox'] if tool == 'test' else [])
    with pytest.raises(SystemExit) as exc:
        _load_tool(tool).parse_args(
            args + ['--cfg-options', 'optimizer.lr=0.01', 'model.pretrained'])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--cfg-options: 'model.pretrained' is not key=value" in err


def test_one_sample_per_gpu_with_training_attention_bn(tmp_path, data):
    with pytest.raises(ValueError, match=r'samples_per_gpu = 1.*ODConv '
                       r'attention BatchNorm.*norm_eval=True'):
        apis.train_from_config(CONFIG, work_dir=str(tmp_path / 'w'),
                          cfg_options={**data['dict'],
                                       'data.samples_per_gpu': 1})


def test_nan_checkpoint_is_refused_at_test_time(tmp_path, monkeypatch, data,
                                                random_checkpoint):
    ckpt = torch.load(random_checkpoint, weights_only=True)
    key = 'roi_head.bbox_head.fc_cls.weight'
    ckpt['state_dict'][key][0, 0] = float('nan')
    path = tmp_path / 'diverged.pth'
    torch.save(ckpt, path)
    _no_inference(monkeypatch)
    with pytest.raises(ValueError, match=rf'diverged\.pth.*NaN or Inf.*'
                       rf'1 of \d+ tensors \({key}\)'):
        apis.test_from_config(CONFIG, str(path), eval=['bbox'],
                         cfg_options=data['dict'])


def test_top_level_key_typo_warns(tmp_path):
    cfg = tmp_path / 'typo.py'
    cfg.write_text(f'_base_ = [{CONFIG!r}]\n'
                   "optimzer = dict(type='SGD', lr=0.001)\n")
    with pytest.warns(UserWarning, match="'optimzer'.*did you mean "
                      "'optimizer'"):
        load_checked_config(str(cfg))
