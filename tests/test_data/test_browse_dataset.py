"""tools/misc/browse_dataset.py draws the training samples of a config."""

import os.path as osp
import runpy
import sys

import mmcv
import numpy as np

from mmdet.datasets.browse import browse_dataset

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(
    REPO, 'configs', '_base_', 'datasets', 'tiny_coco_instance.py'
)


def data_options(root):
    return [
        f'data.train.ann_file={root}/annotations/instances_train.json',
        f'data.train.img_prefix={root}/train/',
    ]


def run_tool(path, args, monkeypatch):
    monkeypatch.setattr(sys, 'argv', [path] + args)
    runpy.run_path(path, run_name='__main__')


def test_browse_writes_drawn_images(tiny_coco, tmp_path, monkeypatch):
    out = tmp_path / 'browse'
    # without the random flip the drawing lies on the raw image
    run_tool(
        osp.join(REPO, 'tools', 'misc', 'browse_dataset.py'),
        [
            CONFIG,
            '--output-dir',
            str(out),
            '--not-show',
            '--skip-type',
            'DefaultFormatBundle',
            'Normalize',
            'Collect',
            'RandomFlip',
            '--cfg-options',
        ]
        + data_options(tiny_coco),
        monkeypatch,
    )
    written = sorted(out.glob('*.jpg'))
    assert len(written) >= 10  # the non-empty training images
    for path in written:
        drawn = mmcv.imread(str(path)).astype(int)
        raw = mmcv.imread(str(tiny_coco / 'train' / path.name)).astype(int)
        assert drawn.shape[0] >= raw.shape[0]  # padded to a multiple of 32
        diff = np.abs(drawn[: raw.shape[0], : raw.shape[1]] - raw).max(2)
        assert (diff > 60).mean() > 0.01, f'nothing drawn on {path.name}'


def test_analysis_tools_wrapper_and_kept_steps(
    tiny_coco, tmp_path, monkeypatch
):
    out = tmp_path / 'wrapped'
    run_tool(
        osp.join(REPO, 'tools', 'analysis_tools', 'browse_dataset.py'),
        [
            CONFIG,
            '--output-dir',
            str(out),
            '--not-show',
            '--max-images',
            '3',
            '--cfg-options',
        ]
        + data_options(tiny_coco),
        monkeypatch,
    )
    assert len(list(out.glob('*.jpg'))) == 3
    # Normalize and the format bundle kept: still drawable
    files = browse_dataset(
        CONFIG,
        output_dir=str(tmp_path / 'kept'),
        skip_type=['Collect'],
        max_images=2,
        cfg_options=dict(a.split('=', 1) for a in data_options(tiny_coco)),
    )
    assert len(files) == 2 and all(osp.isfile(f) for f in files)
    img = mmcv.imread(files[0])
    assert img.std() > 10  # de-normalized back to a picture
