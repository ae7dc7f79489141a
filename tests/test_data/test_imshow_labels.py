"""Label size and placement of imshow_det_bboxes, measured on the drawn
pixels: sized to the object as MMDetection 2.28 sizes them, and kept
whole inside the image."""

import cv2
import numpy as np
import pytest

from mmdet.core.visualization import imshow_det_bboxes
from mmdet.core.visualization.image import label_scales

NAMES = ['circle', 'square', 'triangle', 'cross']


def label_rect(drawn):
    """(top, bottom, left, right) of the label background (black at 0.8
    alpha over white: every channel dark), inclusive pixel indices."""
    dark = drawn.max(axis=2) < 110
    rows, cols = np.nonzero(dark)
    assert len(rows), 'no label drawn'
    return rows.min(), rows.max(), cols.min(), cols.max()


def draw(height, width, box, label=0):
    img = np.full((height, width, 3), 255, np.uint8)
    return imshow_det_bboxes(
        img,
        np.array([box], dtype=np.float32).reshape(1, -1),
        np.array([label]),
        class_names=NAMES,
        bbox_color=(72, 101, 241),
        text_color=(200, 200, 200),
        show=False,
    )


def test_label_scales_follow_the_area():
    # independent: half size up to 800 px, full from 30000 px, linear
    areas = np.array([0, 800, 15400, 30000, 1e6])
    expected = [0.5, 0.5, 0.5 + 14600 / 29200, 1.0, 1.0]
    np.testing.assert_allclose(label_scales(areas), expected)


def test_label_height_against_box_height():
    # a tiny-set object: 30 x 28 px in a 128 px image
    top, bottom, left, right = label_rect(
        draw(128, 128, [20, 30, 50, 58, 0.9])
    )
    small = bottom - top + 1
    assert small <= 0.5 * 28  # today's labels were as tall as the object
    assert small >= 6  # still legible
    # inside the box's top-left corner
    assert 30 <= top <= 34 and 20 <= left <= 24
    # a large object in an 800 x 1333 image: full size, twice the font
    top, bottom, _, _ = label_rect(draw(800, 1333, [100, 100, 600, 500, 0.9]))
    big = bottom - top + 1
    assert 1.6 <= big / small <= 2.4
    assert big <= 0.1 * 400
    assert 100 <= top <= 104


@pytest.mark.parametrize(
    'box',
    [
        [100, 112, 128, 128, 0.9],  # bottom-right corner
        [0, 120, 20, 128, 0.9],  # bottom edge
        [118, 0, 128, 40, 0.9],  # right edge
    ],
)
def test_labels_stay_whole_inside_the_image(box):
    label = 2  # 'triangle|0.90': wider than the boxes at the edge
    free = label_rect(draw(128, 128, [40, 40, 70, 70, 0.9], label))
    height, width = free[1] - free[0], free[3] - free[2]
    top, bottom, left, right = label_rect(draw(128, 128, box, label))
    assert top >= 0 and left >= 0 and bottom <= 127 and right <= 127
    # not cut: the same size as the label drawn in the open
    assert abs((bottom - top) - height) <= 1
    assert abs((right - left) - width) <= 1


def test_labels_of_nearby_boxes_do_not_overlap():
    img = np.full((128, 128, 3), 255, np.uint8)
    boxes = np.array(
        [[30, 40, 90, 100, 0.9], [34, 42, 80, 110, 0.8]], np.float32
    )
    drawn = imshow_det_bboxes(
        img,
        boxes,
        np.array([0, 2]),
        class_names=NAMES,
        bbox_color=(72, 101, 241),
        text_color=(200, 200, 200),
        show=False,
    )
    dark = (drawn.max(axis=2) < 110).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(dark)
    # two separate label backgrounds, both whole (as tall as a free one)
    labels = stats[1:][stats[1:, cv2.CC_STAT_AREA] > 30]  # not edge specks
    heights = sorted(labels[:, cv2.CC_STAT_HEIGHT])
    assert len(labels) == 2, stats
    alone = sorted(
        rect[1] - rect[0] + 1
        for rect in (
            label_rect(draw(128, 128, list(box), label))
            for box, label in zip(boxes, [0, 2])
        )
    )
    assert all(abs(h - a) <= 1 for h, a in zip(heights, alone))
