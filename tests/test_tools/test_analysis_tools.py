"""The analysis tools: get_flops (Params of every configs/odconv/ config,
ODConv FLOPs), analyze_logs (curves, train time), benchmark, eval_metric,
print_config and publish_model, run as their command lines (in-process)."""

import json
import os
import os.path as osp
import pickle
import re
import runpy
import sys

import matplotlib.image as mpimg
import numpy as np
import pytest
import torch
import torch.nn as nn
import yaml
from mmcv.cnn import get_model_complexity_info
from mmcv.runner import save_checkpoint

from mmdet import apis
from mmdet.analysis.complexity import FlopsCounter, odconv2d_flops
from mmdet.models.backbones.odconv import ODConv2d
from mmdet.testing import TINY_COCO_CLASSES, make_tiny_coco
from mmdet.utils.log_analysis import plot_curve

ROOT = osp.dirname(osp.dirname(osp.dirname(__file__)))
MICRO = osp.join(
    ROOT, 'tests', 'data', 'configs', 'micro_mask_rcnn_tiny_coco.py'
)
with open(osp.join(ROOT, 'tests', 'data', 'reference', 'params.json')) as f:
    DETECTOR_PARAMS = json.load(f)['detectors']


def run_tool(script, *args, monkeypatch, capsys):
    """Run ``tools/<script>`` as ``python tools/<script> args``; its
    stdout."""
    capsys.readouterr()
    monkeypatch.setattr(sys, 'argv', [script, *map(str, args)])
    runpy.run_path(osp.join(ROOT, 'tools', script), run_name='__main__')
    return capsys.readouterr().out


ALL_ODCONV_CONFIGS = sorted(
    osp.splitext(f)[0]
    for f in os.listdir(osp.join(ROOT, 'configs', 'odconv'))
    if f.endswith('.py')
)


# ------------------------------------------------------------- get_flops
# the 8 released configs, and of the other families in configs/odconv/ the
# (cheap) MobileNetV2 ones: the counts of the R-50 ones are checked on the
# built models in tests/test_models
ODCONV_CONFIGS = sorted(
    name
    for name in DETECTOR_PARAMS
    if osp.exists(osp.join(ROOT, 'configs', 'odconv', f'{name}.py'))
    and (name.startswith(('faster_rcnn', 'mask_rcnn')) or 'mobilenet' in name)
)


def test_get_flops_covers_the_released_configs():
    assert (
        sum(
            name.startswith(('faster_rcnn', 'mask_rcnn'))
            for name in ODCONV_CONFIGS
        )
        == 8
    )


# no reference count: MMDetection 2.28.2 could not build LAD offline (its
# teacher checkpoint is downloaded), so its reference entry is an error
NO_REFERENCE_COUNT = {'lad_odconv4x_r50_paa_r101_fpn_coco_1x'}


def test_every_odconv_config_has_a_reference_count():
    """Each ODConv config's count is the reference's (params.json) or, for
    the other families, in the model zoo's metafile, where
    test_model_zoo_page checks it against MMDetection's stock count."""
    # '-odconv_head' / '-odconv_neck' variants have no reference count:
    # tests/test_models/test_odconv_conv_cfg.py checks theirs by formula
    released = [n for n in ALL_ODCONV_CONFIGS if '-odconv_' not in n]
    with open(osp.join(ROOT, 'configs', 'odconv', 'metafile.yml')) as f:
        zoo = {m['Name'] for m in yaml.safe_load(f)['Models']}
    missing = set(released) - set(DETECTOR_PARAMS) - zoo
    assert missing == NO_REFERENCE_COUNT


@pytest.mark.parametrize('name', ODCONV_CONFIGS)
def test_get_flops_params_match_reference(name, monkeypatch, capsys):
    out = run_tool(
        'analysis_tools/get_flops.py',
        osp.join(ROOT, 'configs', 'odconv', f'{name}.py'),
        '--shape',
        '40',
        '60',
        monkeypatch=monkeypatch,
        capsys=capsys,
    )
    params = int(
        re.search(r'Params: .* \(([\d,]+)\)', out).group(1).replace(',', '')
    )
    assert params == DETECTOR_PARAMS[name]
    assert 'Input shape: (3, 64, 64)' in out  # padded to multiples of 32
    assert float(re.search(r'Flops: ([\d.]+) [GM]FLOPs', out).group(1)) > 0
    assert ('ODConv2d layers:' in out) == ('odconv' in name)


def test_odconv_flops_by_hand():
    conv = ODConv2d(16, 32, 3, padding=1, kernel_num=4).eval()
    x = torch.randn(2, 16, 8, 8)
    with FlopsCounter(conv) as counter, torch.no_grad():
        conv(x)
    # squeeze width max(int(16 * 0.0625), 16) = 16; heads 16 + 32 + 9 + 4
    attention = 2 * (16 * 64 + 16 * 16 + 3 * 16 + 17 * (16 + 32 + 9 + 4))
    kernel = 32 * 16 * 9
    aggregation = 2 * (4 * kernel + kernel)
    scaling = 2 * (16 * 64 + 32 * 64)
    convolution = 2 * 64 * kernel
    assert dict(counter.odconv) == dict(
        attention=attention,
        aggregation=aggregation,
        scaling=scaling,
        convolution=convolution,
    )
    assert counter.total == attention + aggregation + scaling + convolution
    assert counter.num_odconv == 1


def test_odconv_flops_depthwise_one_kernel_strided():
    conv = ODConv2d(8, 8, 3, stride=2, padding=1, groups=8, kernel_num=1)
    parts = odconv2d_flops(conv, (1, 8, 16, 16), (1, 8, 8, 8))
    # no filter head (depth-wise), no kernel head (one kernel)
    assert parts == dict(
        attention=8 * 256 + 8 * 16 + 3 * 16 + 17 * (8 + 9),
        aggregation=8 * 1 * 9,
        scaling=8 * 256,
        convolution=64 * 8 * 9,
    )


def test_plain_layers_counted_as_mmcv_counts():
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, groups=2),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 10),
    ).eval()
    with FlopsCounter(model) as counter, torch.no_grad():
        model(torch.zeros(1, 3, 20, 20))
    flops, _ = get_model_complexity_info(
        model, (3, 20, 20), print_per_layer_stat=False, as_strings=False
    )
    assert counter.total == flops > 0


# ---------------------------------------------------------- analyze_logs
ITERS = 3  # per epoch, logged every iteration


def write_log(path, losses, times, maps):
    """A .log.json as mmcv's TextLoggerHook writes it: a header line, the
    training records, one evaluation record per epoch."""
    lines = [dict(env_info='sys.platform: linux', config='...', seed=0)]
    for epoch, (epoch_losses, epoch_times) in enumerate(zip(losses, times), 1):
        for i, (loss, time) in enumerate(zip(epoch_losses, epoch_times), 1):
            lines.append(
                dict(
                    mode='train',
                    epoch=epoch,
                    iter=i,
                    lr=0.02,
                    memory=100,
                    data_time=0.01,
                    loss_cls=loss,
                    loss_bbox=loss / 2,
                    loss=1.5 * loss,
                    time=time,
                )
            )
        lines.append(
            dict(
                mode='val',
                epoch=epoch,
                iter=ITERS,
                lr=0.02,
                bbox_mAP=maps[epoch - 1],
                bbox_mAP_copypaste='...',
            )
        )
    with open(path, 'w') as f:
        f.write('\n'.join(json.dumps(line) for line in lines) + '\n')
    return str(path)


@pytest.fixture
def logs(tmp_path):
    a = write_log(
        tmp_path / 'a.log.json',
        losses=[[1.0, 0.8, 0.7], [0.6, 0.5, 0.4]],
        times=[[5.0, 0.2, 0.4], [5.0, 0.1, 0.1]],
        maps=[0.1, 0.2],
    )
    b = write_log(
        tmp_path / 'b.log.json',
        losses=[[2.0, 1.0, 0.9], [0.8, 0.3, 0.2]],
        times=[[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]],
        maps=[0.3, 0.4],
    )
    return a, b


def test_plot_curve_writes_png_of_the_loss(
    logs, tmp_path, monkeypatch, capsys
):
    out = tmp_path / 'loss.png'
    printed = run_tool(
        'analysis_tools/analyze_logs.py',
        'plot_curve',
        *logs,
        '--keys',
        'loss_cls',
        'loss_bbox',
        '--legend',
        'a_cls',
        'a_bbox',
        'b_cls',
        'b_bbox',
        '--title',
        'losses',
        '--out',
        out,
        '--style',
        'whitegrid',
        monkeypatch=monkeypatch,
        capsys=capsys,
    )
    assert f'plot curve of {logs[0]}, metric is loss_cls' in printed
    assert f'save curve to: {out}' in printed
    with open(out, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    pixels = mpimg.imread(str(out))
    assert pixels.shape[0] > 100 and pixels.std() > 0.01


def test_plot_curve_data_and_axes(logs, tmp_path):
    fig = plot_curve(
        list(logs), ['loss_cls', 'bbox_mAP'], out=str(tmp_path / 'mixed.pdf')
    )
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == [
        'a.log.json_loss_cls',
        'a.log.json_bbox_mAP',
        'b.log.json_loss_cls',
        'b.log.json_bbox_mAP',
    ]
    # losses against the global iteration, mAP at the end of its epoch
    np.testing.assert_array_equal(lines[0].get_xdata(), [1, 2, 3, 4, 5, 6])
    np.testing.assert_array_equal(
        lines[0].get_ydata(), [1.0, 0.8, 0.7, 0.6, 0.5, 0.4]
    )
    np.testing.assert_array_equal(lines[1].get_xdata(), [3, 6])
    np.testing.assert_array_equal(lines[3].get_ydata(), [0.3, 0.4])
    assert fig.axes[0].get_xlabel() == 'iter'
    with open(tmp_path / 'mixed.pdf', 'rb') as f:
        assert f.read(5) == b'%PDF-'
    only_map = plot_curve(
        [logs[0]], ['bbox_mAP'], out=str(tmp_path / 'm.png'), start_epoch=2
    )
    assert only_map.axes[0].get_xlabel() == 'epoch'
    np.testing.assert_array_equal(
        only_map.axes[0].get_lines()[0].get_xdata(), [2]
    )


def test_plot_curve_errors_name_the_log(logs, tmp_path):
    with pytest.raises(KeyError, match=r"a.log.json has no 'segm_mAP'"):
        plot_curve([logs[0]], ['segm_mAP'], out=str(tmp_path / 'x.png'))
    with pytest.raises(ValueError, match='1 legend entries for 2 logs'):
        plot_curve(
            list(logs), ['loss'], legend=['x'], out=str(tmp_path / 'x.png')
        )
    text_log = tmp_path / 'run.log'
    text_log.write_text('2026-01-01 00:00:00 INFO Epoch [1][1/3]\n')
    with pytest.raises(ValueError, match=r'run.log, line 1: not JSON'):
        plot_curve([str(text_log)], ['loss'], out=str(tmp_path / 'x.png'))


def test_cal_train_time(logs, monkeypatch, capsys):
    out = run_tool(
        'analysis_tools/analyze_logs.py',
        'cal_train_time',
        logs[0],
        monkeypatch=monkeypatch,
        capsys=capsys,
    )
    # first interval of each epoch left out: (0.2+0.4)/2, (0.1+0.1)/2
    # MMDetection 2.28's lines
    assert f'-----Analyze train time of {logs[0]}-----' in out
    assert 'slowest epoch 1, average time is 0.3000' in out
    assert 'fastest epoch 2, average time is 0.1000' in out
    assert 'time std over epochs is 0.1000' in out
    assert 'average iter time: 0.2000 s/iter' in out
    out = run_tool(
        'analysis_tools/analyze_logs.py',
        'cal_train_time',
        logs[0],
        '--include-outliers',
        monkeypatch=monkeypatch,
        capsys=capsys,
    )
    assert 'slowest epoch 1, average time is 1.8667' in out


# ------------------------------------- benchmark, eval_metric, publishing
@pytest.fixture(scope='module')
def micro_run(tmp_path_factory):
    """A tiny set of 6 test images and a random-weight micro checkpoint."""
    root = tmp_path_factory.mktemp('tiny')
    make_tiny_coco(str(root), seed=0, num_train=2, num_val=6, size=64)
    options = [
        f'data.test.ann_file={root}/annotations/instances_val.json',
        f'data.test.img_prefix={root}/val/',
    ]
    torch.manual_seed(0)
    model = apis.init_detector(MICRO, device='cpu')
    ckpt = str(root / 'micro.pth')
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    save_checkpoint(
        model, ckpt, optimizer=optimizer, meta=dict(CLASSES=TINY_COCO_CLASSES)
    )
    return root, ckpt, options


def test_benchmark_reports_fps(micro_run, monkeypatch, capsys):
    _, ckpt, options = micro_run
    out = run_tool(
        'analysis_tools/benchmark.py',
        MICRO,
        ckpt,
        '--max-iter',
        '6',
        '--log-interval',
        '6',
        '--repeat-num',
        '2',
        '--fuse-conv-bn',
        '--cfg-options',
        *options,
        monkeypatch=monkeypatch,
        capsys=capsys,
    )
    assert out.count('Done image [6  / 6], fps: ') == 2
    fps = [
        float(x)
        for x in re.findall(
            r'Overall fps: ([\d.]+) img / s, '
            r'times per image: [\d.]+ ms / img '
            r'\(1 images timed\)',
            out,
        )
    ]
    assert len(fps) == 2 and min(fps) > 0
    assert 'Overall fps over 2 runs' in out


class _FakeClock:
    """``time.perf_counter`` stand-in that only the fake model moves."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class _TimedModel:
    """A 'model' whose n-th call takes ``seconds[n]`` on the fake clock."""

    def __init__(self, clock, seconds):
        self.clock, self.seconds, self.calls = clock, seconds, 0

    def __call__(self, return_loss, rescale, **data):
        self.clock.now += self.seconds[self.calls]
        self.calls += 1


def test_measure_fps_times_only_the_images_after_warm_up(monkeypatch):
    from mmdet.analysis import benchmark

    clock = _FakeClock()
    monkeypatch.setattr(benchmark.time, 'perf_counter', clock)
    warmup = benchmark.NUM_WARMUP
    # slow warm-up images must not count; 4 timed images of 0.1, 0.1, 0.3,
    # 0.3 s make 0.8 s, i.e. 5 img / s; the 10th image is beyond max_iter
    model = _TimedModel(clock, [5.0] * warmup + [0.1, 0.1, 0.3, 0.3, 9.0])
    lines = []
    fps = benchmark.measure_fps(
        model,
        [dict(img=None)] * 10,
        'cpu',
        max_iter=warmup + 4,
        log_interval=2,
        log=lines.append,
    )
    assert model.calls == warmup + 4
    assert fps == pytest.approx(5.0)
    assert lines[-1] == (
        'Overall fps: 5.0 img / s, times per image: 200.0 '
        'ms / img (4 images timed)'
    )
    # the running figure at image 8 covers the timed images 6-8 only
    assert any(
        line.startswith(
            f'Done image [{warmup + 3:<3}/ {warmup + 4}], fps: 6.0 img / s'
        )
        for line in lines
    ), lines
    with pytest.raises(ValueError, match='warm-up'):
        benchmark.measure_fps(
            _TimedModel(clock, [0.1] * warmup),
            [dict(img=None)] * warmup,
            'cpu',
        )


def test_eval_metric_matches_test_tool(
    micro_run, tmp_path, monkeypatch, capsys
):
    _, ckpt, options = micro_run
    results = str(tmp_path / 'results.pkl')
    cfg_options = dict(option.split('=', 1) for option in options)
    _, metrics = apis.test_from_config(
        MICRO,
        ckpt,
        out=results,
        eval=['bbox', 'segm'],
        cfg_options=cfg_options,
    )
    out = run_tool(
        'analysis_tools/eval_metric.py',
        MICRO,
        results,
        '--eval',
        'bbox',
        'segm',
        '--cfg-options',
        *options,
        monkeypatch=monkeypatch,
        capsys=capsys,
    )
    assert out.strip().splitlines()[-1] == str(metrics)


class _RunsCode:
    def __reduce__(self):
        return os.getcwd, ()


def test_eval_metric_refuses_code_in_results(micro_run, tmp_path):
    _, _, options = micro_run
    evil = str(tmp_path / 'evil.pkl')
    with open(evil, 'wb') as f:
        pickle.dump([_RunsCode()], f)
    cfg_options = dict(option.split('=', 1) for option in options)
    from mmdet.analysis.reevaluate import reevaluate

    with pytest.raises(pickle.UnpicklingError, match='evil.pkl.*getcwd'):
        reevaluate(MICRO, evil, ['bbox'], cfg_options=cfg_options)


def test_print_config_applies_options(monkeypatch, capsys):
    out = run_tool(
        'misc/print_config.py',
        MICRO,
        '--cfg-options',
        'model.backbone.kernel_num=3',
        'optimizer.lr=0.5',
        monkeypatch=monkeypatch,
        capsys=capsys,
    )
    assert out.startswith('Config:\n')
    assert 'kernel_num=3' in out and 'lr=0.5' in out
    assert "type='OD_MobileNetV2'" in out  # bases merged
    # MMDetection's deprecated --options still works, with a warning
    with pytest.warns(UserWarning, match='--options is deprecated'):
        old = run_tool(
            'misc/print_config.py',
            MICRO,
            '--options',
            'model.backbone.kernel_num=3',
            monkeypatch=monkeypatch,
            capsys=capsys,
        )
    assert 'kernel_num=3' in old


def test_eval_metric_option_checks():
    """As MMDetection's eval_metric.py: neither --eval nor --format-only is
    an AssertionError, both a ValueError (checked before any file is
    read)."""
    from mmdet.analysis.reevaluate import reevaluate

    with pytest.raises(AssertionError):
        reevaluate(MICRO, 'missing.pkl')
    with pytest.raises(ValueError, match='both'):
        reevaluate(MICRO, 'missing.pkl', ['bbox'], format_only=True)


def test_publish_model_tool(micro_run, tmp_path, monkeypatch, capsys):
    _, ckpt, _ = micro_run
    out = run_tool(
        'model_converters/publish_model.py',
        ckpt,
        tmp_path / 'micro_release.pth',
        monkeypatch=monkeypatch,
        capsys=capsys,
    )
    (published,) = os.listdir(tmp_path)
    assert re.fullmatch(r'micro_release-[0-9a-f]{8}\.pth', published)
    assert published in out
    ckpt_dict = torch.load(tmp_path / published, weights_only=True)
    assert set(ckpt_dict) == {'meta', 'state_dict'}
