"""The validation loader of ``train_detector``: with several images per
batch the pipeline's ``ImageToTensor`` becomes ``DefaultFormatBundle``
(MMDetection 2.28's ``train_detector`` does the same), so images of
different sizes are padded into one batch."""

import json
import os.path as osp

import mmcv
import pytest

from mmdet.apis.builders import load_config
from mmdet.apis.train import _register_eval_hook
from mmdet.testing.tiny_coco import make_tiny_coco
from mmdet.utils import compat_cfg

ROOT = osp.dirname(osp.dirname(osp.dirname(__file__)))
QUICKSTART = osp.join(
    ROOT, 'configs', 'quickstart', 'retinanet_odconv_mobilenetv2_tiny_coco.py'
)


class _Runner:
    """What ``_register_eval_hook`` needs of a runner."""

    def __init__(self):
        self.hooks = []

    def register_hook(self, hook, priority='NORMAL'):
        self.hooks.append(hook)


def _val_set_of_two_sizes(tmp_path):
    """A validation set of a 64 x 64 and a 40 x 64 (h x w) image."""
    data = tmp_path / 'tiny'
    make_tiny_coco(str(data), seed=0, num_train=1, num_val=2, size=64)
    ann_file = data / 'annotations' / 'instances_val.json'
    ann = json.loads(ann_file.read_text())
    for info, (h, w) in zip(ann['images'], [(64, 64), (40, 64)]):
        path = str(data / 'val' / info['file_name'])
        mmcv.imwrite(mmcv.imresize(mmcv.imread(path), (w, h)), path)
        info['height'], info['width'] = h, w
    ann_file.write_text(json.dumps(ann))
    return str(ann_file), f'{data}/val/'


def _eval_loader(ann_file, img_prefix, samples_per_gpu):
    options = {
        'data.val.ann_file': ann_file,
        'data.val.img_prefix': img_prefix,
        'data.val_dataloader': dict(
            samples_per_gpu=samples_per_gpu, workers_per_gpu=0
        ),
    }
    cfg = compat_cfg(load_config(QUICKSTART, options))
    runner = _Runner()
    _register_eval_hook(runner, cfg, distributed=False)
    (hook,) = runner.hooks
    return hook.dataloader, cfg


def test_batched_validation_pads_images_of_different_sizes(tmp_path):
    ann_file, img_prefix = _val_set_of_two_sizes(tmp_path)
    with pytest.warns(UserWarning, match='ImageToTensor'):
        loader, cfg = _eval_loader(ann_file, img_prefix, 2)
    steps = cfg.data.val.pipeline[1]['transforms']
    assert [s['type'] for s in steps][-2:] == [
        'DefaultFormatBundle',
        'Collect',
    ]
    (batch,) = list(loader)
    imgs = batch['img'][0].data[0]
    metas = batch['img_metas'][0].data[0]
    # resized to 128 on the long side, padded to the larger of the two
    assert [m['img_shape'][:2] for m in metas] == [(128, 128), (80, 128)]
    assert tuple(imgs.shape) == (2, 3, 128, 128)


def test_one_image_per_batch_keeps_the_pipeline(tmp_path):
    ann_file, img_prefix = _val_set_of_two_sizes(tmp_path)
    loader, cfg = _eval_loader(ann_file, img_prefix, 1)
    steps = cfg.data.val.pipeline[1]['transforms']
    assert 'ImageToTensor' in [s['type'] for s in steps]
    shapes = [tuple(b['img'][0].shape) for b in loader]
    assert shapes == [(1, 3, 128, 128), (1, 3, 96, 128)]
