"""MMDetection 2.x's stock Faster R-CNN config trains unchanged through
tools/train.py (pointed at a tiny data set, no pretrained download)."""

import json
import os
import os.path as osp
import subprocess
import sys

import pytest

from mmdet.testing.tiny_coco import make_tiny_coco

ROOT = osp.dirname(osp.dirname(osp.dirname(__file__)))


@pytest.mark.slow
def test_stock_faster_rcnn_trains_an_iteration(tmp_path):
    data = tmp_path / 'tiny'
    make_tiny_coco(str(data), seed=0, num_train=1, num_val=1, size=64)
    work_dir = tmp_path / 'work'
    options = [
        'model.backbone.init_cfg=None',
        f'data.train.ann_file={data}/annotations/instances_train.json',
        f'data.train.img_prefix={data}/train/',
        "data.train.classes=('circle','square','triangle','cross')",
        'model.roi_head.bbox_head.num_classes=4',
        'data.train.pipeline.2.img_scale=(128,128)',
        'data.samples_per_gpu=1',
        'data.workers_per_gpu=0',
        'runner.max_epochs=1',
        'log_config.interval=1',
    ]
    cmd = [
        sys.executable,
        'tools/train.py',
        'configs/faster_rcnn/faster_rcnn_r50_fpn_1x_coco.py',
        '--work-dir',
        str(work_dir),
        '--no-validate',
        '--seed',
        '0',
        '--cfg-options',
        *options,
    ]
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    logs = [f for f in os.listdir(work_dir) if f.endswith('.log.json')]
    with open(work_dir / logs[0]) as f:
        entries = [json.loads(line) for line in f if '"mode"' in line]
    train = [e for e in entries if e['mode'] == 'train']
    assert len(train) == 1 and train[0]['iter'] == 1
    for key in ('loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox'):
        assert 0 < train[0][key] < 10, key
    assert osp.isfile(work_dir / 'epoch_1.pth')
