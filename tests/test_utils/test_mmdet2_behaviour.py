"""Behaviours MMDetection 2.x's own unit tests expect (each failed before
the compatibility work): FilterAnnotations' keep_empty, EvalHook's
dynamic_intervals, batched distance2bbox, per-level anchor-head losses,
setup_multi_processes, digit_version, compat_cfg and the COCO palette."""

import os
import sys
import types

import cv2
import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from mmcv import Config
from torch.utils.data import DataLoader

from mmdet import digit_version
from mmdet.core import DistEvalHook, EvalHook
from mmdet.core.bbox.transforms import distance2bbox
from mmdet.core.visualization import get_palette
from mmdet.datasets import CocoDataset
from mmdet.datasets.pipelines import FilterAnnotations
from mmdet.models import build_head
from mmdet.utils import compat_cfg, setup_multi_processes


# 1. FilterAnnotations
def annotations():
    return dict(
        gt_bboxes=np.array(
            [[0, 0, 10, 10], [5, 5, 5.5, 20]], dtype=np.float32
        ),
        gt_labels=np.array([1, 2]),
    )


def test_filter_annotations_keep_empty():
    keep = FilterAnnotations(min_gt_bbox_wh=(1.0, 1.0))(annotations())
    assert keep['gt_labels'].tolist() == [1]
    # every box filtered out: None with keep_empty=True (the default) ...
    assert (
        FilterAnnotations(min_gt_bbox_wh=(50.0, 50.0))(annotations()) is None
    )
    # ... the emptied sample with keep_empty=False
    out = FilterAnnotations(min_gt_bbox_wh=(50.0, 50.0), keep_empty=False)(
        annotations()
    )
    assert out['gt_bboxes'].shape == (0, 4) and len(out['gt_labels']) == 0


# 2. dynamic_intervals
@pytest.mark.parametrize('hook_type', [EvalHook, DistEvalHook])
def test_eval_hook_dynamic_intervals(hook_type):
    loader = DataLoader([torch.zeros(1)], batch_size=1)
    hook = hook_type(
        loader, interval=1, metric='bbox', dynamic_intervals=[(3, 2), (6, 3)]
    )
    assert 'dynamic_intervals' not in hook.eval_kwargs
    evaluated = []
    for epoch in range(9):
        runner = types.SimpleNamespace(epoch=epoch, iter=0)
        hook.before_train_epoch(runner)
        if hook._should_evaluate(runner):
            evaluated.append(epoch + 1)
    # every epoch up to 3, every 2nd from epoch 3, every 3rd from epoch 6
    assert evaluated == [1, 2, 4, 6, 9]
    with pytest.raises(AssertionError, match='dynamic_intervals'):
        hook_type(loader, dynamic_intervals=[3, 2])


@pytest.mark.parametrize(
    'hook_type,loop',
    [(EvalHook, 'single_gpu_test'), (DistEvalHook, 'multi_gpu_test')],
)
def test_eval_hook_without_test_fn_runs_mmdet_apis_loop(
    hook_type, loop, monkeypatch
):
    """MMDetection's hooks look ``mmdet.apis.<loop>`` up when they run, so
    its tests patch that name; a hook built without ``test_fn`` does too."""
    import mmdet.apis

    calls = []

    def fake_loop(model, loader, **kwargs):
        calls.append(model)
        return ['result']

    monkeypatch.setattr(mmdet.apis, loop, fake_loop)
    loader = DataLoader([torch.zeros(1)], batch_size=1)
    hook = hook_type(loader, interval=1)
    assert hook._detection_test_fn() is fake_loop
    given = hook_type(loader, interval=1, test_fn=len)
    assert given._detection_test_fn() is len
    # without mmdet.apis loaded there is nothing to take: a clear error
    monkeypatch.delitem(sys.modules, 'mmdet.apis')
    with pytest.raises(TypeError, match=f'test_fn=mmdet.apis.{loop}'):
        hook._detection_test_fn()


# 3. distance2bbox
def test_distance2bbox_batched_max_shapes():
    points = torch.tensor([[10.0, 10.0], [50.0, 5.0]])
    dists = torch.tensor([[20.0, 5.0, 30.0, 40.0], [1.0, 1.0, 100.0, 100.0]])
    single = distance2bbox(points, dists, (30, 40))
    assert single.tolist() == [[0.0, 5.0, 40.0, 30.0], [40.0, 4.0, 40.0, 30.0]]
    batched = distance2bbox(
        points.expand(2, 2, 2), dists.expand(2, 2, 4), [(30, 40), (100, 60, 3)]
    )
    assert batched.shape == (2, 2, 4)
    assert torch.equal(batched[0], single)
    assert batched[1].tolist() == [
        [0.0, 5.0, 40.0, 50.0],
        [49.0, 4.0, 60.0, 100.0],
    ]
    as_tensor = distance2bbox(
        points.expand(2, 2, 2),
        dists.expand(2, 2, 4),
        torch.tensor([[30, 40], [100, 60]]),
    )
    assert torch.equal(as_tensor, batched)
    with pytest.raises(AssertionError, match='one \\(H, W\\) per image'):
        distance2bbox(points, dists, [(30, 40), (100, 60)])


# 4. per-level anchor head losses
def test_anchor_head_loss_per_level():
    torch.manual_seed(0)
    head = build_head(
        dict(
            type='RPNHead',
            in_channels=2,
            feat_channels=2,
            anchor_generator=dict(
                type='AnchorGenerator',
                scales=[8],
                ratios=[1.0],
                strides=[4, 8, 16],
            ),
            bbox_coder=dict(type='DeltaXYWHBBoxCoder'),
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True),
            loss_bbox=dict(type='L1Loss'),
            train_cfg=dict(
                assigner=dict(
                    type='MaxIoUAssigner',
                    pos_iou_thr=0.7,
                    neg_iou_thr=0.3,
                    min_pos_iou=0.3,
                    match_low_quality=True,
                    ignore_iof_thr=-1,
                ),
                sampler=dict(
                    type='RandomSampler',
                    num=64,
                    pos_fraction=0.5,
                    neg_pos_ub=-1,
                    add_gt_as_proposals=False,
                ),
                allowed_border=-1,
                pos_weight=-1,
                debug=False,
            ),
        )
    )
    feats = [torch.rand(1, 2, 64 // s, 64 // s) for s in (4, 8, 16)]
    metas = [
        dict(img_shape=(64, 64, 3), pad_shape=(64, 64, 3), scale_factor=1.0)
    ]
    cls_scores, bbox_preds = head(feats)
    losses = head.loss(
        cls_scores, bbox_preds, [torch.tensor([[8.0, 8.0, 40.0, 40.0]])], metas
    )
    assert [len(v) for v in losses.values()] == [3, 3]
    assert all(v.dim() == 0 for v in losses['loss_rpn_cls'])


# 5. setup_multi_processes
@pytest.fixture
def restore_process_settings(monkeypatch):
    method = mp.get_start_method(allow_none=True)
    threads = cv2.getNumThreads()
    for var in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'):
        monkeypatch.delenv(var, raising=False)
    yield
    mp.set_start_method(method, force=True)
    cv2.setNumThreads(threads)


def test_setup_multi_processes(restore_process_settings, monkeypatch):
    cfg = Config(dict(data=dict(workers_per_gpu=2)))
    with pytest.warns(UserWarning) as record:
        setup_multi_processes(cfg)
    messages = ' '.join(str(w.message) for w in record)
    assert 'OMP_NUM_THREADS=1' in messages
    assert 'MKL_NUM_THREADS=1' in messages
    assert os.environ['OMP_NUM_THREADS'] == '1'
    assert os.environ['MKL_NUM_THREADS'] == '1'
    assert mp.get_start_method() == 'fork'
    assert cv2.getNumThreads() <= 1  # 0: OpenCV's serial backend
    # the config's start method replaces the one set
    cfg = Config(
        dict(
            mp_start_method='spawn',
            opencv_num_threads=4,
            data=dict(workers_per_gpu=0),
        )
    )
    monkeypatch.setenv('OMP_NUM_THREADS', '3')
    monkeypatch.delenv('MKL_NUM_THREADS')
    with pytest.warns(UserWarning, match="'spawn'.*replaces.*'fork'"):
        setup_multi_processes(cfg)
    assert mp.get_start_method() == 'spawn'
    assert cv2.getNumThreads() == 4
    assert os.environ['OMP_NUM_THREADS'] == '3'
    assert 'MKL_NUM_THREADS' not in os.environ  # one worker or none


# 6. digit_version
def test_digit_version_release_candidates():
    assert digit_version('1.0.0rc2') > digit_version('1.0.0rc1')
    assert digit_version('1.0.0rc1') > digit_version('1.0.0rc0')
    assert digit_version('1.0.0') > digit_version('1.0.0rc2')
    assert digit_version('1.0.1rc1') > digit_version('1.0.0')
    assert digit_version('1.0.5') > digit_version('1.0rc0')
    assert digit_version('1.0.0b1') > digit_version('1.0.0a2')
    assert digit_version('1.0.0.post1') > digit_version('1.0.0')


# 7. compat_cfg
def data_cfg(**data):
    return Config(
        dict(data=dict(train=dict(), val=dict(), test=dict(), **data))
    )


def test_compat_cfg_imgs_per_gpu_wins():
    with pytest.warns(UserWarning, match='imgs_per_gpu=4 is used'):
        cfg = compat_cfg(data_cfg(imgs_per_gpu=4, samples_per_gpu=2))
    assert cfg.data.train_dataloader.samples_per_gpu == 4
    with pytest.warns(UserWarning, match='deprecated'):
        cfg = compat_cfg(data_cfg(imgs_per_gpu=3))
    assert cfg.data.train_dataloader.samples_per_gpu == 3


def test_compat_cfg_samples_per_gpu_twice_is_an_error():
    with pytest.raises(AssertionError, match='samples_per_gpu.*both'):
        compat_cfg(
            data_cfg(
                samples_per_gpu=2, train_dataloader=dict(samples_per_gpu=4)
            )
        )
    with pytest.raises(AssertionError, match='data.val_dataloader'):
        compat_cfg(
            Config(
                dict(
                    data=dict(
                        train=dict(),
                        val=dict(samples_per_gpu=2),
                        test=dict(),
                        val_dataloader=dict(samples_per_gpu=3),
                    )
                )
            )
        )
    cfg = compat_cfg(
        data_cfg(
            samples_per_gpu=2,
            workers_per_gpu=3,
            test_dataloader=dict(workers_per_gpu=1),
        )
    )
    assert cfg.data.train_dataloader == dict(
        samples_per_gpu=2, workers_per_gpu=3
    )
    assert cfg.data.test_dataloader.workers_per_gpu == 3


# 8. COCO palette
def test_coco_palette():
    assert len(CocoDataset.PALETTE) == len(CocoDataset.CLASSES) == 80
    assert CocoDataset.PALETTE[0] == (220, 20, 60)
    assert CocoDataset.PALETTE[-1] == (191, 162, 208)
    palette = get_palette('coco', 80)
    assert palette == CocoDataset.PALETTE
    assert get_palette('coco', 90)[:80] == palette
    # beyond 80, COCO-panoptic's colours; VOC's and Cityscapes' by name
    assert len(get_palette('coco', 133)) == 133
    assert get_palette('coco', 133)[-1] == (250, 141, 255)
    assert get_palette('voc', 20)[0] == (106, 0, 228)
    assert len(set(get_palette('voc', 20))) == 20
    assert get_palette('citys', 8)[-1] == (119, 11, 32)
    with pytest.raises(AssertionError, match='one colour per class'):
        get_palette([(1, 2, 3)], 2)


def test_compat_helpers_are_public_and_match_mmdet():
    from mmcv import ConfigDict

    from mmdet.utils import (
        compat_imgs_per_gpu,
        compat_loader_args,
        compat_runner_args,
    )

    with pytest.warns(UserWarning, match='runner'):
        cfg = compat_runner_args(ConfigDict(total_epochs=12))
    assert cfg.runner == dict(type='EpochBasedRunner', max_epochs=12)
    agreeing = ConfigDict(total_epochs=3, runner=dict(max_epochs=3))
    assert compat_runner_args(agreeing) is agreeing
    with pytest.raises(AssertionError, match='disagree'):
        compat_runner_args(
            ConfigDict(total_epochs=3, runner=dict(max_epochs=4))
        )
    with pytest.warns(UserWarning, match='imgs_per_gpu'):
        cfg = compat_imgs_per_gpu(ConfigDict(data=dict(imgs_per_gpu=2)))
    assert cfg.data.samples_per_gpu == 2
    # a list of test sets always gives the test loader a batch size
    cfg = compat_loader_args(
        ConfigDict(data=dict(train=dict(), test=[dict(), dict()]))
    )
    assert cfg.data.test_dataloader.samples_per_gpu == 1
    cfg = compat_loader_args(
        ConfigDict(
            data=dict(test=[dict(samples_per_gpu=2), dict(samples_per_gpu=3)])
        )
    )
    assert cfg.data.test_dataloader.samples_per_gpu == 3
    single = compat_loader_args(ConfigDict(data=dict(test=dict())))
    assert 'samples_per_gpu' not in single.data.test_dataloader


def test_rfnext_init_model_only_with_an_rfsearch_hook():
    import copy

    import torch.nn as nn

    from mmdet.utils import rfnext_init_model

    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
    rfnext_init_model(model, Config(dict(custom_hooks=[])))
    assert isinstance(model[0], nn.Conv2d)
    hook = dict(
        type='RFSearchHook',
        mode='search',
        verbose=False,
        rfstructure_file=None,
        config=dict(
            search=dict(
                step=0,
                max_step=12,
                search_interval=1,
                exp_rate=0.5,
                init_alphas=0.01,
                mmin=1,
                mmax=24,
                num_branches=2,
                skip_layer=[],
            )
        ),
    )
    cfg = Config(dict(custom_hooks=[copy.deepcopy(hook)]))
    rfnext_init_model(model, cfg)
    assert type(model[0]).__name__ == 'Conv2dRFSearchOp'
    assert model(torch.rand(1, 3, 8, 8)).shape == (1, 4, 8, 8)
    with pytest.raises(AssertionError):
        rfnext_init_model(model, Config(dict(custom_hooks=[hook, hook])))
