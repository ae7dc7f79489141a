"""Drawing detections with matplotlib (headless)."""

import mmcv
import numpy as np
import pytest

from mmdet.core.visualization import (
    get_palette,
    imshow_det_bboxes,
    imshow_gt_det_bboxes,
    palette_val,
)


def blank(h=60, w=80):
    return np.full((h, w, 3), 100, np.uint8)


def test_boxes_labels_scores_and_threshold(tmp_path):
    bboxes = np.array([[5, 5, 40, 30, 0.9], [45, 20, 75, 55, 0.2]])
    out_file = str(tmp_path / 'a' / 'drawn.jpg')
    drawn = imshow_det_bboxes(
        blank(),
        bboxes,
        np.array([0, 1]),
        class_names=['a', 'b'],
        score_thr=0.5,
        bbox_color=(255, 0, 0),
        show=False,
        out_file=out_file,
    )
    assert drawn.shape == (60, 80, 3) and drawn.dtype == np.uint8
    assert mmcv.imread(out_file).shape == (60, 80, 3)
    changed = np.abs(drawn.astype(int) - 100).max(2) > 30
    assert changed[5:31, 5:41].any()
    assert not changed[45:, 60:].any()  # the 0.2 box was filtered out
    # the box edge is drawn in the requested colour (BGR out: blue channel
    # low, red high)
    edge = drawn[15, 5]
    assert edge[2] > 200 and edge[0] < 80


def test_masks_without_boxes_and_rle(tmp_path):
    mask = np.zeros((60, 80), bool)
    mask[10:30, 20:50] = True
    drawn = imshow_det_bboxes(
        blank(),
        None,
        np.array([0]),
        [mask],
        mask_color=[(0, 255, 0)],
        show=False,
    )
    # above the label, which is centred on the mask's centroid
    inside = drawn[12, 22].astype(int)
    assert inside[1] > inside[0] + 50  # blended with green
    assert (drawn[50:, :10] == 100).all()
    import pycocotools.mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    from_rle = imshow_det_bboxes(
        blank(),
        None,
        np.array([0]),
        [rle],
        mask_color=[(0, 255, 0)],
        show=False,
    )
    np.testing.assert_array_equal(from_rle, drawn)
    with pytest.raises(ValueError):
        imshow_det_bboxes(blank(), np.zeros((2, 4)), np.array([0]), show=False)


def test_gt_and_detections_and_palettes():
    result = [
        np.array([[5, 5, 40, 30, 0.9]], np.float32),
        np.zeros((0, 5), np.float32),
    ]
    annotation = dict(
        gt_bboxes=np.array([[40, 20, 70, 50]]), gt_labels=np.array([1])
    )
    drawn = imshow_gt_det_bboxes(
        blank(), annotation, result, class_names=['a', 'b'], show=False
    )
    assert drawn.shape == (60, 80, 3)
    stacked = imshow_gt_det_bboxes(
        blank(), annotation, result, show=False, overlay_gt_pred=False
    )
    assert stacked.shape == (120, 80, 3)
    assert get_palette('coco', 3) == get_palette('coco', 80)[:3]
    assert get_palette(None, 5) == get_palette('random', 5)  # fixed seed
    assert len(set(get_palette('coco', 80))) == 80
    assert get_palette((1, 2, 3), 2) == [(1, 2, 3), (1, 2, 3)]
    assert get_palette('green', 1) == [(0, 255, 0)]
    assert palette_val([(255, 0, 51)]) == [(1.0, 0.0, 0.2)]
    with pytest.raises(ValueError):
        get_palette([(1, 2, 3)], 2)


def test_drawing_inputs_as_mmdet_takes_them(tmp_path):
    import torch

    from mmdet.core import BitmapMasks
    from mmdet.core.visualization import (
        color_val_matplotlib,
        imshow_det_bboxes,
        imshow_gt_det_bboxes,
    )

    assert color_val_matplotlib('green') == (0.0, 1.0, 0.0)
    assert color_val_matplotlib((255, 0, 0)) == (0.0, 0.0, 1.0)  # BGR in
    img = np.zeros((10, 10, 3), np.uint8)
    boxes = np.array([[1, 1, 5, 5, 0.9], [2, 2, 8, 8, 0.8]], np.float32)
    labels = np.array([0, 1])
    masks = np.zeros((2, 10, 10), bool)
    with pytest.raises(AttributeError, match='numpy'):
        imshow_det_bboxes(img, boxes, labels, torch.from_numpy(masks))
    out = str(tmp_path / 'gt.jpg')
    ann = dict(gt_bboxes=boxes[:, :4], gt_labels=labels)
    result = ([boxes[:1], boxes[1:]], [[masks[0]], [masks[1]]])
    for gt_masks in (BitmapMasks(masks, 10, 10), torch.from_numpy(masks)):
        imshow_gt_det_bboxes(
            img, dict(ann, gt_masks=gt_masks), result, out_file=out
        )
    with pytest.raises(TypeError):
        imshow_gt_det_bboxes(img, dict(ann, gt_masks=[]), result)
