"""tools/analysis_tools/train_quickstart_families.py: the table from fake
work dirs (fast), and a one-epoch run of every quick-start config on a
small generated set (slow)."""

import json
import os.path as osp
import runpy
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(__file__)))
CONFIG_DIR = osp.join(ROOT, 'configs', 'quickstart')
TOOL = osp.join(
    ROOT, 'tools', 'analysis_tools', 'train_quickstart_families.py'
)
# the tool's functions (its main() does not run under this name)
_TOOL = runpy.run_path(TOOL)
config_name = _TOOL['config_name']
find_configs = _TOOL['find_configs']
format_seconds = _TOOL['format_seconds']
eval_metrics = _TOOL['eval_metrics']


def run_tool(argv, monkeypatch, capsys):
    monkeypatch.setattr(sys, 'argv', [TOOL, *argv])
    runpy.run_path(TOOL, run_name='__main__')
    return capsys.readouterr().out


def table_cells(text):
    rows = [line for line in text.splitlines() if line.startswith('| ')]
    return {
        cells[0]: cells[1:]
        for cells in (
            [c.strip() for c in row.strip('|').split('|')] for row in rows[1:]
        )
    }


def fake_run(work_root, name, epochs, seconds, evals):
    """A run folder as train_and_evaluate leaves it: family_run.json and
    ``evals``, a list of ``(timestamp, metrics)`` tools/test.py files."""
    run_dir = work_root / name
    run_dir.mkdir(parents=True)
    (run_dir / 'family_run.json').write_text(
        json.dumps(
            dict(
                config=f'configs/quickstart/{name}.py',
                epochs=epochs,
                train_seconds=seconds,
            )
        )
    )
    for stamp, metrics in evals:
        (run_dir / f'eval_{stamp}.json').write_text(
            json.dumps(dict(config=name, metric=metrics))
        )


def test_every_quickstart_config_is_found():
    names = [config_name(c) for c in find_configs(CONFIG_DIR)]
    assert names == sorted(names)
    for name in (
        'mask_rcnn_odconv_mobilenetv2_tiny_coco',
        'cascade_rcnn_odconv_mobilenetv2_tiny_coco',
        'cascade_mask_rcnn_odconv_mobilenetv2_tiny_coco',
        'sparse_rcnn_odconv_mobilenetv2_tiny_coco',
        'solov2_odconv_mobilenetv2_tiny_coco',
        'yolact_odconv_mobilenetv2_tiny_coco',
    ):
        assert name in names
    with pytest.raises(FileNotFoundError, match='--config-dir'):
        find_configs(osp.join(ROOT, 'configs', 'odconv'))


@pytest.mark.parametrize(
    'config, metrics',
    [
        ('retinanet/retinanet_r50_fpn_1x_coco.py', ['bbox']),
        ('sparse_rcnn/sparse_rcnn_r50_fpn_1x_coco.py', ['bbox']),
        ('mask_rcnn/mask_rcnn_r50_fpn_1x_coco.py', ['bbox', 'segm']),
        ('htc/htc_r50_fpn_1x_coco.py', ['bbox', 'segm']),
        ('queryinst/queryinst_r50_fpn_1x_coco.py', ['bbox', 'segm']),
        ('yolact/yolact_r50_1x8_coco.py', ['bbox', 'segm']),
        ('solo/solo_r50_fpn_1x_coco.py', ['segm']),
        ('solov2/solov2_r50_fpn_1x_coco.py', ['segm']),
        ('detr/detr_r50_8x2_150e_coco.py', ['bbox']),
    ],
)
def test_eval_metrics_follow_the_model(config, metrics):
    """bbox where the model has a box head, segm where it has masks (a
    roi_head's mask_head or a model-level one); the stock config evaluates
    the same, except SOLO's (its all-zero boxes give a bbox mAP of 0)."""
    from mmcv import Config

    cfg = Config.fromfile(osp.join(ROOT, 'configs', config))
    assert eval_metrics(cfg) == metrics
    stock = cfg.get('evaluation', {}).get('metric', 'bbox')
    stock = [stock] if isinstance(stock, str) else stock
    if 'solo' in config:
        assert cfg.model.get('bbox_head') is None
        stock = [m for m in stock if m != 'bbox']
    assert sorted(stock) == metrics


def test_quickstart_configs_evaluate_what_they_predict():
    """The new families' quick-start configs evaluate during training
    what the tool evaluates at the end."""
    from mmcv import Config

    want = dict(sparse_rcnn=['bbox'], solov2=['segm'], yolact=['bbox', 'segm'])
    for family, metrics in want.items():
        name = f'{family}_odconv_mobilenetv2_tiny_coco.py'
        cfg = Config.fromfile(osp.join(CONFIG_DIR, name))
        assert eval_metrics(cfg) == metrics
        stock = cfg.evaluation.metric
        assert ([stock] if isinstance(stock, str) else stock) == metrics


def test_table_from_fake_work_dirs(tmp_path, monkeypatch, capsys):
    work = tmp_path / 'families'
    # the newest evaluation counts
    fake_run(
        work,
        'cascade_mask_rcnn_odconv_mobilenetv2_tiny_coco',
        4,
        905.4,
        [
            ('20260101_000000', dict(bbox_mAP=0.1, segm_mAP=0.1)),
            ('20260102_000000', dict(bbox_mAP=0.6512, segm_mAP=0.5988)),
        ],
    )
    # a box-only model: no segm column
    fake_run(
        work,
        'cascade_rcnn_odconv_mobilenetv2_tiny_coco',
        4,
        59.6,
        [('20260101_000000', dict(bbox_mAP=0.7004))],
    )
    out = tmp_path / 'table.md'
    text = run_tool(
        [
            '--config-dir',
            CONFIG_DIR,
            '--work-dir',
            str(work),
            '--table-only',
            '--out',
            str(out),
        ],
        monkeypatch,
        capsys,
    )
    assert out.read_text(encoding='utf-8') == text
    assert (
        text.splitlines()[0]
        == '| config | epochs | training time | per epoch | bbox mAP | '
        'segm mAP |'
    )
    cells = table_cells(text)
    assert list(cells) == [config_name(c) for c in find_configs(CONFIG_DIR)]
    assert cells['cascade_mask_rcnn_odconv_mobilenetv2_tiny_coco'] == [
        '4',
        '15 min 05 s',
        '3 min 46 s',
        '0.651',
        '0.599',
    ]
    assert cells['cascade_rcnn_odconv_mobilenetv2_tiny_coco'] == [
        '4',
        '1 min 00 s',
        '15 s',
        '0.700',
        '-',
    ]
    assert cells['mask_rcnn_odconv_mobilenetv2_tiny_coco'] == [
        'not run',
        '-',
        '-',
        'not run',
        'not run',
    ]


def test_format_seconds_and_bad_arguments(tmp_path, monkeypatch, capsys):
    assert format_seconds(None) == '-'
    assert format_seconds(42.4) == '42 s'
    assert format_seconds(3725) == '62 min 05 s'
    with pytest.raises(SystemExit, match='no config named'):
        run_tool(
            [
                '--config-dir',
                CONFIG_DIR,
                '--work-dir',
                str(tmp_path),
                '--only',
                'yolo_tiny_coco',
            ],
            monkeypatch,
            capsys,
        )
    with pytest.raises(SystemExit):
        run_tool(['--epochs', '0'], monkeypatch, capsys)
    assert '--epochs must be at least 1' in capsys.readouterr().err


@pytest.mark.slow
def test_one_epoch_of_every_family(tmp_path, monkeypatch, capsys):
    from mmcv import Config

    from mmdet.testing.tiny_coco import make_tiny_coco

    data = tmp_path / 'tiny'
    make_tiny_coco(str(data), seed=0, num_train=8, num_val=4, size=64)
    work = tmp_path / 'families'
    monkeypatch.chdir(ROOT)
    text = run_tool(
        ['--work-dir', str(work), '--epochs', '1', '--data-root', str(data)],
        monkeypatch,
        capsys,
    )
    cells = table_cells(text)
    assert list(cells) == [config_name(c) for c in find_configs(CONFIG_DIR)]
    # one epoch of 2 iterations: a family may still detect nothing on the
    # 4 validation images (COCO evaluation of empty results: no metric,
    # '-'), but some do, and every one trained, tested and was tabulated
    scored = 0
    for name, (epochs, seconds, bbox, segm) in cells.items():
        assert epochs == '1', name
        assert seconds != '-', name
        assert (work / name / 'latest.pth').is_file()
        cfg = Config.fromfile(osp.join(CONFIG_DIR, name + '.py'))
        metrics = eval_metrics(cfg)
        if bbox == '-' and segm == '-':
            continue
        scored += 1
        for metric, cell in (('bbox', bbox), ('segm', segm)):
            if metric in metrics:
                assert 0.0 <= float(cell) <= 1.0, name
            else:
                assert cell == '-', name
    assert scored >= 2
