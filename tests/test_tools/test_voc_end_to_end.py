"""VOC end to end: a VOC-format copy of the tiny set trains the quick-start
RetinaNet for one epoch (tools/train.py), tools/test.py --eval mAP prints
MMDetection's VOC table, and its mAP equals eval_map on the same
detections (--out)."""

import os.path as osp
import pathlib
import re
import subprocess
import sys

import mmcv
import pytest

from mmdet.core.evaluation import eval_map
from mmdet.datasets import build_dataset
from mmdet.testing import TINY_COCO_CLASSES, make_tiny_coco, tiny_coco_to_voc

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BASE = osp.join(
    ROOT, 'configs', 'quickstart', 'retinanet_odconv_mobilenetv2_tiny_coco.py'
)


def voc_config(tmp_path, base):
    split = dict(
        type='VOCDataset',
        classes=TINY_COCO_CLASSES,
        img_prefix=str(base) + '/',
    )
    train = dict(split, ann_file=str(base / 'ImageSets/Main/trainval.txt'))
    test = dict(split, ann_file=str(base / 'ImageSets/Main/test.txt'))
    path = tmp_path / 'retinanet_tiny_voc.py'
    path.write_text(
        f'_base_ = {BASE!r}\n'
        f'data = dict(workers_per_gpu=0, train={train!r}, val={test!r}, '
        f'test={test!r})\n'
        "evaluation = dict(interval=10, metric='mAP')\n"
        "runner = dict(type='EpochBasedRunner', max_epochs=1)\n"
        'lr_config = dict(warmup_iters=2)\n'
    )
    return str(path)


def run(*args):
    done = subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_tiny_voc_copy(tmp_path):
    make_tiny_coco(str(tmp_path / 'coco'), num_train=4, num_val=16)
    base = tiny_coco_to_voc(str(tmp_path / 'coco'), str(tmp_path / 'voc'))
    ds = build_dataset(
        dict(
            type='VOCDataset',
            classes=TINY_COCO_CLASSES,
            ann_file=osp.join(base, 'ImageSets/Main/test.txt'),
            img_prefix=base,
            pipeline=[],
            test_mode=True,
        )
    )
    coco = build_dataset(
        dict(
            type='CocoDataset',
            classes=TINY_COCO_CLASSES,
            ann_file=str(tmp_path / 'coco/annotations/instances_val.json'),
            img_prefix='',
            pipeline=[],
            test_mode=True,
        )
    )
    assert len(ds) == len(coco) == 16
    for i in range(len(ds)):
        voc, ref = ds.get_ann_info(i), coco.get_ann_info(i)
        assert voc['labels'].tolist() == ref['labels'].tolist()
        assert abs(voc['bboxes'] - ref['bboxes']).max(initial=0) <= 0.5
        # crowd regions are difficult objects: ignored in both
        assert len(voc['bboxes_ignore']) == len(ref['bboxes_ignore'])


@pytest.mark.slow
def test_train_and_test_voc(tmp_path):
    make_tiny_coco(str(tmp_path / 'coco'), num_train=16, num_val=8)
    base = tiny_coco_to_voc(str(tmp_path / 'coco'), str(tmp_path / 'voc'))
    cfg = voc_config(tmp_path, pathlib.Path(base))
    work = tmp_path / 'work'
    run('tools/train.py', cfg, '--work-dir', str(work))
    out = tmp_path / 'results.pkl'
    text = run(
        'tools/test.py', cfg, str(work / 'epoch_1.pth'),
        '--eval', 'mAP', '--out', str(out),
    )  # fmt: skip
    assert re.search(r'\| class +\| gts +\| dets +\| recall +\| ap +\|', text)
    for name in TINY_COCO_CLASSES:
        assert f'| {name} ' in text
    printed = float(re.search(r'\| mAP +\|.*\| (\d\.\d{3}) +\|', text)[1])
    ds = build_dataset(
        mmcv.Config.fromfile(cfg).data.test, dict(test_mode=True)
    )
    annotations = [ds.get_ann_info(i) for i in range(len(ds))]
    mean_ap, _ = eval_map(
        mmcv.load(str(out)),
        annotations,
        iou_thr=0.5,
        use_legacy_coordinate=True,
        eval_mode='11points',
        logger='silent',
    )
    assert printed == round(mean_ap, 3)
    metrics = re.search(r"\('mAP', ([0-9.e-]+)\)", text)
    assert float(metrics[1]) == pytest.approx(mean_ap, abs=1e-6)
