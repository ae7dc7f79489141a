"""Where MMDetection 2.28 checks an argument with ``assert`` (or raises a
specific type), code written against it -- its own unit tests among them --
catches that type: the errors here must be instances of it too, besides
naming the fix. Also the import paths 2.28 code uses."""

import numpy as np
import pytest
import torch
from mmcv.utils import build_from_cfg

from mmdet.core.anchor import AnchorGenerator, MlvlPointGenerator
from mmdet.core.bbox.coder import DeltaXYWHBBoxCoder
from mmdet.core.mask import BitmapMasks, PolygonMasks
from mmdet.core.utils import filter_scores_and_topk
from mmdet.datasets.builder import PIPELINES


def square(x=4.0):
    return np.array([x, x, x + 8, x, x + 8, x + 8, x, x + 8])


ASSERTED = {
    'points for too few levels': lambda: MlvlPointGenerator(
        [4, 10]
    ).grid_priors([(2, 2)], device='cpu'),
    'anchors for too few levels': lambda: AnchorGenerator(
        [4, 8], [1.0], [1.0]
    ).grid_priors([(2, 2)], device='cpu'),
    'one max_shape per image, too many': lambda: DeltaXYWHBBoxCoder().decode(
        torch.rand(2, 4, 4), torch.rand(2, 4, 4), max_shape=[(32, 32)] * 3
    ),
    'bitmap masks nested one level too deep': lambda: BitmapMasks(
        [[np.zeros((28, 28), np.uint8)]], 28, 28
    ),
    'bitmap crop by a (1, 4) box': lambda: BitmapMasks(
        np.zeros((1, 28, 28), np.uint8), 28, 28
    ).crop(np.zeros((2, 4))),
    'polygon crop by a (1, 4) box': lambda: PolygonMasks(
        [[square()]], 28, 28
    ).crop(np.zeros((2, 4))),
    'an empty polygon list': lambda: PolygonMasks([[[]]], 28, 28),
}

PIPELINE_ASSERTED = [
    dict(type='Resize', img_scale=[1333, 800], keep_ratio=True),
    dict(
        type='Resize',
        img_scale=[(1333, 800), (1333, 600)],
        ratio_range=(0.9, 1.1),
    ),
    dict(type='Resize', img_scale=[(1333, 800)], multiscale_mode='2333'),
    dict(type='RandomFlip', flip_ratio=1.5),
    dict(type='RandomFlip', flip_ratio=1.0, direction='horizonta'),
    dict(type='Pad'),
    dict(type='Pad', size_divisor=32, pad_to_square=True),
    dict(
        type='MultiScaleFlipAug',
        scale_factor=1.0,
        img_scale=[(1333, 800)],
        transforms=[],
    ),
    dict(type='MultiScaleFlipAug', img_scale=[1333, 800], transforms=[]),
    dict(
        type='MultiScaleFlipAug',
        img_scale=[(1333, 800)],
        flip_direction=1,
        transforms=[],
    ),
]


@pytest.mark.parametrize('case', sorted(ASSERTED))
def test_asserted_arguments_raise_assertion_errors(case):
    with pytest.raises(AssertionError) as info:
        ASSERTED[case]()
    assert str(info.value)  # the message says what is wrong


@pytest.mark.parametrize(
    'cfg', PIPELINE_ASSERTED, ids=lambda c: f'{c["type"]}-{sorted(c)}'
)
def test_pipeline_arguments_raise_assertion_errors(cfg):
    with pytest.raises(AssertionError):
        build_from_cfg(cfg, PIPELINES)


def test_specific_error_types():
    masks = PolygonMasks([[square()]] * 3, 28, 28)
    with pytest.raises(ValueError, match='cannot be indexed'):
        masks[torch.Tensor([1, 2])]
    assert len(masks[np.array([0, 2])]) == 2  # integer arrays still work
    with pytest.raises(NotImplementedError):
        filter_scores_and_topk(torch.rand(4, 3), 0.1, 4, (torch.rand(4),))


def test_mmdet2_import_paths():
    from mmdet.core.hook import NumClassCheckHook
    from mmdet.datasets import NumClassCheckHook as FromDatasets
    from mmdet.datasets.utils import NumClassCheckHook as FromUtils

    assert FromDatasets is NumClassCheckHook is FromUtils


@pytest.mark.parametrize(
    'cfg',
    [
        dict(type='CrossEntropyLoss', use_sigmoid=True, use_mask=True),
        dict(type='FocalLoss', use_sigmoid=False),
        dict(type='SmoothL1Loss', beta=0.0),
        dict(type='IoULoss', mode='nope'),
    ],
    ids=lambda c: c['type'],
)
def test_loss_arguments_raise_assertion_errors(cfg):
    from mmdet.models import build_loss

    with pytest.raises(AssertionError):
        loss = build_loss(cfg)
        # SmoothL1Loss checks beta when called, as MMDetection does
        loss(torch.rand(2, 4), torch.rand(2, 4))


def test_anchor_free_head_arguments():
    from mmdet.models import build_head

    head = dict(type='FCOSHead', num_classes=3, in_channels=8)
    with pytest.raises(AssertionError):
        build_head(dict(head, conv_bias='yes'))


def test_focal_loss_on_probabilities():
    """``activated=True`` takes sigmoid outputs and gives the loss of the
    logits (MMDetection's ``py_focal_loss_with_prob``)."""
    from mmdet.models import build_loss

    torch.manual_seed(0)
    logits = torch.randn(6, 4) * 3
    labels = torch.tensor([0, 3, 4, 2, 4, 1])  # 4 = background
    weight = torch.rand(6)
    on_logits = build_loss(dict(type='FocalLoss', loss_weight=2.0))
    on_probs = build_loss(
        dict(type='FocalLoss', loss_weight=2.0, activated=True)
    )
    for kwargs in (
        {},
        dict(weight=weight, avg_factor=3.0),
        dict(reduction_override='none'),
    ):
        expected = on_logits(logits, labels, **kwargs)
        got = on_probs(logits.sigmoid(), labels, **kwargs)
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    # gradients reach the probabilities
    probs = logits.sigmoid().requires_grad_()
    on_probs(probs, labels).backward()
    assert probs.grad.abs().sum() > 0


def test_result_count_and_test_tool_checks_are_assertion_errors():
    from mmdet.apis.builders import check_test_outputs
    from mmdet.datasets.utils import get_loading_pipeline

    with pytest.raises(AssertionError, match='--out, --eval'):
        check_test_outputs(None, None, False)
    with pytest.raises(AssertionError, match='--format-only'):
        check_test_outputs(None, ['bbox'], True)
    with pytest.raises(AssertionError):
        get_loading_pipeline([dict(type='Resize', img_scale=(1, 1))])


def test_dataset_result_counts_are_assertion_errors(tmp_path):
    import mmcv

    from mmdet.datasets import ClassBalancedDataset, CustomDataset

    ann = tmp_path / 'a.pkl'
    mmcv.dump(
        [
            dict(
                filename='x.jpg',
                width=64,
                height=32,
                ann=dict(
                    bboxes=np.array([[1.0, 2, 30, 20]], np.float32),
                    labels=np.array([0]),
                ),
            )
        ],
        str(ann),
    )
    ds = CustomDataset(str(ann), [], classes=('a',), test_mode=True)
    with pytest.raises(AssertionError, match='2 results'):
        ds.evaluate([[np.zeros((0, 5))]] * 2)
    # test mode has no aspect-ratio groups; the wrapper's flag is empty
    assert not hasattr(ds, 'flag')
    balanced = ClassBalancedDataset(ds, oversample_thr=0.5)
    assert balanced.flag.dtype == np.uint8 and len(balanced.flag) == 0


def test_bbox_overlaps_checks_are_assertion_errors():
    from mmdet.core import bbox_overlaps

    with pytest.raises(AssertionError):
        bbox_overlaps(torch.rand(2, 4), torch.rand(3, 4), is_aligned=True)
    with pytest.raises(AssertionError):
        bbox_overlaps(torch.rand(2, 4), torch.rand(2, 4), mode='giou2')
    with pytest.raises(AssertionError):
        bbox_overlaps(torch.rand(2, 3), torch.rand(2, 4))


def test_eval_map_takes_boxes_without_scores():
    """MMDetection ranks (m, 4) detections by their last column."""
    from mmdet.core.evaluation import eval_map

    gt = dict(
        bboxes=np.array([[0, 0, 10, 10], [20, 20, 30, 30]], np.float32),
        labels=np.array([0, 0]),
    )
    dets = [[np.array([[0, 0, 10, 10], [20, 20, 30, 30]], np.float32)]]
    mean_ap, results = eval_map(dets, [gt], logger='silent', nproc=1)
    assert mean_ap == pytest.approx(1.0)
    assert results[0]['num_dets'] == 2
