"""TridentNet: branch merging (class-wise NMS over the branches, then
``max_per_img``) and a tiny TridentFasterRCNN that trains and tests."""

import numpy as np
import pytest
import torch
from mmcv import Config

from mmdet.models import build_detector
from mmdet.models.builder import build_head


def _head(max_per_img=2):
    return build_head(
        dict(
            type='TridentRoIHead',
            num_branch=3,
            test_branch_idx=-1,
            bbox_roi_extractor=dict(
                type='SingleRoIExtractor',
                roi_layer=dict(type='RoIAlign', output_size=7),
                out_channels=8,
                featmap_strides=[16],
            ),
            bbox_head=dict(
                type='BBoxHead', in_channels=8, roi_feat_size=7, num_classes=3
            ),
            test_cfg=dict(
                score_thr=0.05,
                nms=dict(type='nms', iou_threshold=0.5),
                max_per_img=max_per_img,
            ),
        )
    )


def test_merge_trident_bboxes():
    boxes = torch.tensor(
        [
            [0.0, 0.0, 10.0, 10.0, 0.9],
            [0.0, 0.0, 10.0, 10.5, 0.8],  # same class, overlaps: dropped
            [0.0, 0.0, 10.0, 10.5, 0.7],  # other class: kept
            [20.0, 20.0, 30.0, 30.0, 0.6],  # over max_per_img
        ]
    )
    labels = torch.tensor([0, 0, 1, 0])
    dets, out_labels = _head().merge_trident_bboxes(boxes, labels)
    assert out_labels.tolist() == [0, 1]
    assert torch.allclose(dets[:, 4], torch.tensor([0.9, 0.7]))
    empty, empty_labels = _head().merge_trident_bboxes(
        torch.zeros(0, 5), torch.zeros(0, dtype=torch.long)
    )
    assert empty.shape == (0, 5) and empty_labels.shape == (0,)


@pytest.mark.slow
def test_trident_faster_rcnn_trains_and_tests():
    cfg = Config.fromfile('configs/tridentnet/tridentnet_r50_caffe_1x_coco.py')
    cfg.model.backbone.init_cfg = None
    model = build_detector(cfg.model)
    torch.manual_seed(0)
    img = torch.randn(1, 3, 64, 64)
    meta = dict(
        img_shape=(64, 64, 3),
        ori_shape=(64, 64, 3),
        pad_shape=(64, 64, 3),
        scale_factor=np.ones(4, dtype=np.float32),
        flip=False,
    )
    losses = model.forward_train(
        img,
        [meta],
        [torch.tensor([[4.0, 6.0, 40.0, 50.0]])],
        [torch.tensor([3])],
    )
    assert {'loss_rpn_cls', 'loss_cls', 'loss_bbox'} <= set(losses)
    model.eval()
    with torch.no_grad():
        out = model.simple_test(img, [meta], rescale=True)
    assert len(out) == 1 and len(out[0]) == 80
