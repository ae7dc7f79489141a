"""RPN proposals through tools/test.py (--out, --eval proposal_fast) feed
a Fast R-CNN training step (proposal_file) with MMDetection's stock
configs, pointed at a tiny data set."""

import json
import os
import os.path as osp
import subprocess
import sys

import mmcv
import numpy as np
import pytest
import torch
from mmcv import Config

from mmdet.models import build_detector
from mmdet.testing.tiny_coco import make_tiny_coco

ROOT = osp.dirname(osp.dirname(osp.dirname(__file__)))
CLASSES = "('circle','square','triangle','cross')"


def _run(args):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    return proc.stdout + proc.stderr


@pytest.mark.slow
def test_rpn_proposals_feed_fast_rcnn(tmp_path):
    data = tmp_path / 'tiny'
    make_tiny_coco(str(data), seed=0, num_train=2, num_val=1, size=64)
    ann = f'{data}/annotations/instances_train.json'
    rpn_cfg = 'configs/rpn/rpn_r50_fpn_1x_coco.py'
    cfg = Config.fromfile(osp.join(ROOT, rpn_cfg))
    cfg.model.backbone.init_cfg = None
    torch.manual_seed(0)
    model = build_detector(cfg.model)
    ckpt = tmp_path / 'rpn.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)

    props = tmp_path / 'proposals.pkl'
    out = _run(
        [
            'tools/test.py',
            rpn_cfg,
            str(ckpt),
            '--out',
            str(props),
            '--eval',
            'proposal_fast',
            'proposal',
            '--cfg-options',
            f'data.test.ann_file={ann}',
            f'data.test.img_prefix={data}/train/',
            f'data.test.classes={CLASSES}',
            'data.test.pipeline.1.img_scale=(64,64)',
            'data.workers_per_gpu=0',
        ]
    )
    for num in (100, 300, 1000):
        assert f'AR@{num}' in out
    # COCOeval's proposal recall (metric 'proposal') by object size
    assert 'AR_l@1000' in out
    proposals = mmcv.load(str(props))
    assert len(proposals) == 2
    for p in proposals:
        assert p.ndim == 2 and p.shape[1] == 5 and 0 < len(p) <= 1000
        assert p.dtype == np.float32
        # original-image pixels, sorted by score
        assert (p[:, :4] >= 0).all() and (p[:, [0, 2]] <= 64).all()
        assert (np.diff(p[:, 4]) <= 0).all()

    work_dir = tmp_path / 'work'
    _run(
        [
            'tools/train.py',
            'configs/fast_rcnn/fast_rcnn_r50_fpn_1x_coco.py',
            '--work-dir',
            str(work_dir),
            '--no-validate',
            '--seed',
            '0',
            '--cfg-options',
            'model.backbone.init_cfg=None',
            f'data.train.ann_file={ann}',
            f'data.train.img_prefix={data}/train/',
            f'data.train.proposal_file={props}',
            f'data.train.classes={CLASSES}',
            'model.roi_head.bbox_head.num_classes=4',
            'data.train.pipeline.3.img_scale=(64,64)',
            'data.samples_per_gpu=1',
            'data.workers_per_gpu=0',
            'runner.max_epochs=1',
            'log_config.interval=1',
        ]
    )
    logs = [f for f in os.listdir(work_dir) if f.endswith('.log.json')]
    with open(work_dir / logs[0]) as f:
        entries = [json.loads(line) for line in f if '"mode"' in line]
    train = [e for e in entries if e['mode'] == 'train']
    assert train and train[0]['iter'] == 1
    assert 'loss_rpn_cls' not in train[0]
    for key in ('loss_cls', 'loss_bbox'):
        assert 0 <= train[0][key] < 10, key
