"""init_detector / inference_detector / show_result_pyplot and the image
demo on a micro Mask R-CNN with random weights and a tiny-set image."""

import os
import os.path as osp
import runpy
import sys

import mmcv
import numpy as np
import pytest
import torch
from mmcv.runner import save_checkpoint

from mmdet.apis import inference_detector, init_detector, show_result_pyplot
from mmdet.testing import TINY_COCO_CLASSES, make_tiny_coco

ROOT = osp.dirname(osp.dirname(osp.dirname(__file__)))
CONFIG = osp.join(
    ROOT, 'tests', 'data', 'configs', 'micro_mask_rcnn_tiny_coco.py'
)


@pytest.fixture(scope='module')
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp('tiny')
    make_tiny_coco(str(root), seed=0, num_train=2, num_val=2, size=64)
    return [
        str(root / 'val' / name) for name in sorted(os.listdir(root / 'val'))
    ]


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    model = init_detector(CONFIG, device='cpu')
    model.CLASSES = TINY_COCO_CLASSES
    return model


def assert_same(a, b, atol=0.0):
    (boxes_a, masks_a), (boxes_b, masks_b) = a, b
    for x, y in zip(boxes_a, boxes_b):
        assert x.shape == y.shape
        np.testing.assert_allclose(x, y, rtol=0, atol=atol)
    assert [len(x) for x in masks_a] == [len(x) for x in masks_b]


def test_init_detector_builds_eval_model_with_config(model):
    assert not model.training
    assert model.cfg.model.train_cfg is None
    assert model.cfg.model.roi_head.bbox_head.num_classes == 4
    assert next(model.parameters()).device.type == 'cpu'


def test_result_format_and_inputs(model, images):
    result = inference_detector(model, images[0])
    bbox_result, segm_result = result
    assert len(bbox_result) == len(segm_result) == 4
    assert sum(len(b) for b in bbox_result) > 0
    height, width = mmcv.imread(images[0]).shape[:2]
    for boxes, masks in zip(bbox_result, segm_result):
        assert boxes.shape[1] == 5 and boxes.dtype == np.float32
        assert len(masks) == len(boxes)
        for mask in masks:
            assert mask.shape == (height, width) and mask.dtype == bool
        # boxes in the original image's pixels
        assert (boxes[:, [0, 2]] <= width).all()
        assert (boxes[:, [1, 3]] <= height).all()
    # an array gives the same as its file; a list gives a list
    assert_same(inference_detector(model, mmcv.imread(images[0])), result)
    batch = inference_detector(model, [images[0], mmcv.imread(images[1])])
    assert isinstance(batch, list) and len(batch) == 2
    # batching pads and stacks: the same up to float round-off
    assert_same(batch[0], result, atol=1e-3)
    assert_same(batch[1], inference_detector(model, images[1]), atol=1e-3)


def test_cfg_options_reach_the_model(images):
    model = init_detector(
        CONFIG,
        device='cpu',
        cfg_options={'model.test_cfg.rcnn.max_per_img': 3},
    )
    bbox_result, _ = inference_detector(model, images[0])
    assert 0 < sum(len(b) for b in bbox_result) <= 3


def test_missing_cuda_and_bad_inputs_are_explained(images, monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(RuntimeError, match="device='cpu'"):
        init_detector(CONFIG, device='cuda:0')
    with pytest.raises(FileNotFoundError, match='nothing_here.py'):
        init_detector('configs/nothing_here.py', device='cpu')


def test_missing_image_is_named(model, tmp_path):
    with pytest.raises(FileNotFoundError, match='no_image.jpg'):
        inference_detector(model, str(tmp_path / 'no_image.jpg'))


def test_show_result_pyplot_writes_the_drawing(model, images, tmp_path):
    result = inference_detector(model, images[0])
    out = str(tmp_path / 'drawn.png')
    show_result_pyplot(
        model, images[0], result, score_thr=0.0, palette='coco', out_file=out
    )
    drawn, original = mmcv.imread(out), mmcv.imread(images[0])
    assert drawn.shape == original.shape
    assert (drawn != original).any()
    # nothing scores above 1: nothing drawn
    show_result_pyplot(model, images[0], result, score_thr=1.0, out_file=out)
    assert (mmcv.imread(out) == original).all()


def test_image_demo_draws_detections(
    model, images, tmp_path, monkeypatch, capsys
):
    ckpt = str(tmp_path / 'micro.pth')
    save_checkpoint(model, ckpt, meta=dict(CLASSES=model.CLASSES))
    out = str(tmp_path / 'demo_out.jpg')
    monkeypatch.setattr(
        sys,
        'argv',
        [
            'image_demo.py',
            images[1],
            CONFIG,
            ckpt,
            '--device',
            'cpu',
            '--score-thr',
            '0',
            '--out-file',
            out,
        ],
    )
    runpy.run_path(
        osp.join(ROOT, 'demo', 'image_demo.py'), run_name='__main__'
    )
    assert out in capsys.readouterr().out
    drawn, original = mmcv.imread(out), mmcv.imread(images[1])
    assert drawn.shape == original.shape
    # more than JPEG noise: boxes and masks drawn over the image
    assert np.abs(drawn.astype(int) - original).max() > 60


def test_async_inference_detector(model, images):
    """MMDetection's asyncio entry point gives inference_detector's results
    while the event loop keeps running other tasks."""
    import asyncio

    from mmdet.apis import async_inference_detector

    ticks = []

    async def ticker():
        for _ in range(3):
            ticks.append(1)
            await asyncio.sleep(0)

    async def main():
        detect = asyncio.create_task(
            async_inference_detector(model, images[0])
        )
        await ticker()
        return await detect

    result = asyncio.run(main())
    assert_same(result, inference_detector(model, images[0]))
    assert len(ticks) == 3


@pytest.mark.parametrize(
    'config',
    [
        'yolox/yolox_s_8x8_300e_coco.py',
        'mask2former/mask2former_r50_lsj_8x2_50e_coco.py',
    ],
)
def test_test_detector_sets_only_the_pretrained_keys_a_config_has(config):
    """tools/test.py's model: no ``pretrained`` forced into a detector
    (MaskFormer) or backbone (CSPDarknet) that takes none."""
    from mmdet.apis import build_test_detector, load_config

    cfg = load_config(osp.join(ROOT, 'configs', config))
    model, _ = build_test_detector(cfg)
    assert not model.training
