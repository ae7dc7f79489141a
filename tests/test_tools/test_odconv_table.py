"""tools/analysis_tools/odconv_table.py on fake work dirs with hand-written
.log.json evaluation lines and a tools/test.py metrics file: the 8 released
rows and the cascade rows, the reference Params, AP of the last evaluation,
'not run' elsewhere, the two published Params figures that differ from the
count flagged, 'not published' where the authors published nothing."""

import json
import os.path as osp
import runpy
import sys

import pytest

from mmdet.analysis.model_zoo_page import load_models

ROOT = osp.dirname(osp.dirname(osp.dirname(__file__)))
METAFILE = osp.join(ROOT, 'configs', 'odconv', 'metafile.yml')
with open(osp.join(ROOT, 'tests', 'data', 'reference', 'params.json')) as f:
    DETECTOR_PARAMS = json.load(f)['detectors']
ORDER = [
    'faster_rcnn_r50_fpn_1x_coco',
    'faster_rcnn_odconv4x_r50_fpn_1x_coco',
    'faster_rcnn_mobilenetv2_100_fpn_1x_coco',
    'faster_rcnn_odconv4x_mobilenetv2_100_fpn_1x_coco',
    'mask_rcnn_r50_fpn_1x_coco',
    'mask_rcnn_odconv4x_r50_fpn_1x_coco',
    'mask_rcnn_mobilenetv2_100_fpn_1x_coco',
    'mask_rcnn_odconv4x_mobilenetv2_100_fpn_1x_coco',
    'cascade_rcnn_odconv4x_r50_fpn_1x_coco',
    'cascade_rcnn_odconv4x_mobilenetv2_100_fpn_1x_coco',
    'cascade_mask_rcnn_odconv4x_r50_fpn_1x_coco',
    'cascade_mask_rcnn_odconv4x_mobilenetv2_100_fpn_1x_coco',
    'retinanet_odconv4x_r50_fpn_1x_coco',
    'retinanet_odconv4x_mobilenetv2_100_fpn_1x_coco',
    'fcos_odconv4x_r50_fpn_gn-head_1x_coco',
    'fcos_odconv4x_mobilenetv2_100_fpn_gn-head_1x_coco',
    'atss_odconv4x_r50_fpn_1x_coco',
    'atss_odconv4x_mobilenetv2_100_fpn_1x_coco',
]


def write_log(path, evals, with_header=True):
    """A training .log.json: a header, a training record and one
    evaluation record per ``evals`` entry ``(epoch, bbox, segm or None)``."""
    lines = [dict(env_info='...', config='...')] if with_header else []
    for epoch, bbox, segm in evals:
        lines.append(
            dict(
                mode='train', epoch=epoch, iter=50, lr=0.02, loss=1.0, time=0.5
            )
        )
        record = dict(
            mode='val',
            epoch=epoch,
            iter=7330,
            lr=0.02,
            bbox_mAP=bbox,
            bbox_mAP_50=0.6,
        )
        if segm is not None:
            record['segm_mAP'] = segm
        lines.append(record)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('\n'.join(json.dumps(line) for line in lines) + '\n')


@pytest.fixture
def runs(tmp_path):
    work = tmp_path / 'work_dirs'
    # the newest log's last evaluation counts, not an older run's
    write_log(
        work / ORDER[0] / '20260101_000000.log.json', [(12, 0.301, None)]
    )
    write_log(
        work / ORDER[0] / '20260301_000000.log.json',
        [(11, 0.370, None), (12, 0.3743, None)],
    )
    # a stopped run: the epoch of its last evaluation is shown
    write_log(
        work / ORDER[4] / '20260101_000000.log.json',
        [(1, 0.2, 0.19), (2, 0.28, 0.26), (3, 0.3051, 0.2849)],
    )
    write_log(
        work / ORDER[7] / '20260101_000000.log.json', [(12, 0.36049, 0.32951)]
    )
    write_log(
        work / ORDER[10] / '20260101_000000.log.json', [(12, 0.4123, 0.3561)]
    )
    # training logs without evaluation: not run
    log = work / ORDER[6] / '20260101_000000.log.json'
    log.parent.mkdir(parents=True)
    log.write_text(json.dumps(dict(mode='train', epoch=1, iter=1)) + '\n')
    # tools/test.py --work-dir output of a released checkpoint
    metrics = tmp_path / 'eval_20260101_000000.json'
    metrics.write_text(
        json.dumps(
            dict(
                config='configs/odconv/faster_rcnn_mobilenetv2_100_fpn_1x_coco.py',
                metric=dict(bbox_mAP=0.318, bbox_mAP_50=0.5),
            )
        )
    )
    return work, metrics


def run_table(argv, monkeypatch, capsys):
    monkeypatch.setattr(sys, 'argv', ['odconv_table.py', *argv])
    runpy.run_path(
        osp.join(ROOT, 'tools', 'analysis_tools', 'odconv_table.py'),
        run_name='__main__',
    )
    return capsys.readouterr().out


def table_cells(text):
    rows = [line for line in text.splitlines() if line.startswith('| ')]
    return [
        [cell.strip() for cell in row.strip('|').split('|')]
        for row in rows[1:]
    ]


def test_table_from_work_dirs_and_results(runs, tmp_path, monkeypatch, capsys):
    work, metrics = runs
    out_file = tmp_path / 'table.md'
    text = run_table(
        [
            '--work-dirs',
            str(work),
            '--results',
            f'faster_rcnn_mobilenetv2_100_fpn_1x_coco={metrics}',
            '--config-dir',
            osp.join(ROOT, 'configs', 'odconv'),
            '--out',
            str(out_file),
        ],
        monkeypatch,
        capsys,
    )
    assert out_file.read_text(encoding='utf-8') == text

    rows = {
        row[-1].split(']')[0].lstrip('['): row for row in table_cells(text)
    }
    # the released and first families' rows, then the metafile's others
    odconv_models = [
        m for m in load_models(METAFILE) if m['In Collection'] == 'ODConv'
    ]
    assert list(rows) == ORDER + [
        m['Name'] for m in odconv_models if m['Name'] not in ORDER
    ]
    counts = {m['Name']: m['Metadata']['Parameters'] for m in odconv_models}
    for name, row in rows.items():
        # counted from the built model; the metafile's counts are the
        # reference's (test_model_zoo_page)
        assert row[2] == f'{counts[name] / 1e6:.2f}M', name
        if name in ORDER:
            assert counts[name] == DETECTOR_PARAMS[name], name
    published = {name: row[3] for name, row in rows.items()}
    assert published[ORDER[1]] == '108.91M †'
    assert published[ORDER[7]] == '31.80M †'
    assert sum(p.endswith('†') for p in published.values()) == 2
    assert '108,915,912 parameters (108.92M)' in text
    assert '31,784,005 parameters (31.78M)' in text

    # columns: box AP, box AP (paper), mask AP, mask AP (paper)
    aps = {name: row[4:8] for name, row in rows.items()}
    assert aps[ORDER[0]] == ['37.4', '37.4', '-', '-']
    assert aps[ORDER[1]] == ['not run', '39.4', '-', '-']
    assert aps[ORDER[2]] == ['31.8', '31.8', '-', '-']
    assert aps[ORDER[3]] == ['not run', '35.5', '-', '-']
    assert aps[ORDER[4]] == [
        '30.5 (epoch 3)',
        '38.2',
        '28.5 (epoch 3)',
        '34.6',
    ]
    assert aps[ORDER[5]] == ['not run', '40.2', 'not run', '36.1']
    assert aps[ORDER[6]] == ['not run', '32.4', 'not run', '29.8']
    assert aps[ORDER[7]] == ['36.0', '36.0', '33.0', '33.0']
    # the ODConv versions of the other families: nothing published
    assert aps[ORDER[8]] == ['not run', 'not published', '-', '-']
    assert aps[ORDER[9]] == ['not run', 'not published', '-', '-']
    assert aps[ORDER[10]] == ['41.2', 'not published', '35.6', 'not published']
    assert aps[ORDER[11]] == [
        'not run',
        'not published',
        'not run',
        'not published',
    ]
    assert all(published[name] == 'not published' for name in ORDER[8:])
    assert str(metrics) in text  # where the numbers come from
    assert '20260301_000000.log.json' in text


def test_unknown_results_name_and_missing_work_dir(
    tmp_path, monkeypatch, capsys
):
    metrics = tmp_path / 'm.json'
    metrics.write_text(json.dumps(dict(metric=dict(bbox_mAP=0.1))))
    with pytest.raises(KeyError, match='retinanet_r50'):
        run_table(
            [
                '--results',
                f'retinanet_r50={metrics}',
                '--config-dir',
                osp.join(ROOT, 'configs', 'odconv'),
            ],
            monkeypatch,
            capsys,
        )
    with pytest.raises(FileNotFoundError, match='nowhere'):
        run_table(
            [
                '--work-dirs',
                str(tmp_path / 'nowhere'),
                '--config-dir',
                osp.join(ROOT, 'configs', 'odconv'),
            ],
            monkeypatch,
            capsys,
        )
