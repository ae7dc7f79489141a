"""Draw boxes, labels, scores and masks on an image with matplotlib.

Drawing goes through matplotlib's Agg canvas directly (no pyplot, no window),
so it works on machines without a display; ``show=True`` opens an OpenCV
window only where there is a display.
"""

import os
import warnings

import cv2
import mmcv
import numpy as np
import pycocotools.mask as mask_utils
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from ..evaluation.panoptic import INSTANCE_OFFSET
from ..utils.misc import mask2ndarray
from .palette import get_palette, palette_val

EPS = 1e-2
MASK_ALPHA = 0.5
# object areas (pixels) between which labels grow from half to full size
LABEL_MIN_AREA = 800
LABEL_MAX_AREA = 30000


class MaskTypeError(TypeError, AttributeError):
    """Masks of a type the drawing functions do not take (an
    ``AttributeError`` too: MMDetection fails with one there)."""


def color_val_matplotlib(color):
    """A colour as mmcv takes it (BGR tuple, name, int, ndarray) -> an RGB
    tuple of floats in [0, 1], as matplotlib takes it."""
    blue, green, red = mmcv.color_val(color)
    return (red / 255, green / 255, blue / 255)


def _as_mask_array(segms, height, width):
    """(N, H, W) bool from a list/array of binary masks or RLE dicts."""
    if segms is None:
        return None
    if hasattr(segms, 'detach'):  # a Tensor: refused as MMDetection does
        raise MaskTypeError(
            'segms must be numpy masks or RLE dicts, got a Tensor; pass '
            'segms.cpu().numpy()'
        )
    masks = []
    for segm in segms:
        if isinstance(segm, dict):
            segm = mask_utils.decode(segm)
        masks.append(np.asarray(segm).astype(bool))
    if not masks:
        return np.zeros((0, height, width), dtype=bool)
    return np.stack(masks)


def _filter_by_score(bboxes, labels, segms, score_thr):
    """Keep the detections whose score (5th box column) is > score_thr."""
    if score_thr <= 0 or bboxes is None or bboxes.shape[1] != 5:
        return bboxes, labels, segms
    keep = bboxes[:, -1] > score_thr
    segms = segms[keep] if segms is not None else None
    return bboxes[keep], labels[keep], segms


def _blend_masks(img, masks, labels, colors):
    """Blend every mask into ``img`` (RGB uint8) with its class colour."""
    img = img.astype(np.float32)
    for mask, label in zip(masks, labels):
        color = np.array(colors[label], dtype=np.float32)
        img[mask] = img[mask] * (1 - MASK_ALPHA) + color * MASK_ALPHA
    return img.astype(np.uint8)


def _mask_anchor(mask):
    """Where a label goes for a mask without a box: the centroid of its
    largest connected part, as (x, y), and that part's area in pixels."""
    count, _, stats, centroids = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8), connectivity=8
    )
    if count < 2:
        return (0.0, 0.0), 0.0
    largest = 1 + np.argmax(stats[1:, cv2.CC_STAT_AREA])
    return tuple(centroids[largest]), float(stats[largest, cv2.CC_STAT_AREA])


def label_scales(areas, min_area=LABEL_MIN_AREA, max_area=LABEL_MAX_AREA):
    """Font scale per object from its area in pixels, as MMDetection 2.28
    sizes labels: 0.5 up to ``min_area``, 1.0 from ``max_area``, linear
    in between. (N,) -> (N,) floats."""
    areas = np.asarray(areas, dtype=np.float64)
    return np.clip(0.5 + (areas - min_area) / (max_area - min_area), 0.5, 1)


def _label_texts(labels, scores, class_names):
    texts = []
    for i, label in enumerate(labels):
        name = (
            class_names[label]
            if class_names is not None and label < len(class_names)
            else f'class {label}'
        )
        if scores is not None:
            name += f'|{scores[i]:.02f}'
        texts.append(name)
    return texts


def _shift_into(low, high, size):
    """How far to move the span [low, high] to lie within [0, size]; a span
    longer than ``size`` is aligned at 0."""
    if high > size:
        return max(size - high, -low)
    return max(0.0, -low)


def _label_rect(artist, renderer, height):
    """(left, top, right, bottom) in image pixels of a text with its
    background box."""
    artist.draw(renderer)  # lays out the background box
    box = artist.get_bbox_patch().get_window_extent(renderer)
    # display coordinates count from the bottom-left corner
    return box.x0, height - box.y1, box.x1, height - box.y0


def _overlap(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _place_label(artist, renderer, width, height, placed):
    """Move a label off the labels in ``placed`` (below the one it covers,
    above it where below leaves the image), then into the image; adds its
    rectangle to ``placed``."""
    left, top, right, bottom = _label_rect(artist, renderer, height)
    dy = 0.0
    for _ in placed:
        rect = (left, top + dy, right, bottom + dy)
        other = next((r for r in placed if _overlap(rect, r)), None)
        if other is None:
            break
        step = other[3] - rect[1] + 1  # 1 px apart
        if rect[3] + step > height:
            step = other[1] - rect[3] - 1
        dy += step
    top, bottom = top + dy, bottom + dy
    dx = _shift_into(left, right, width)
    dy += _shift_into(top, bottom, height)
    if dx or dy:
        x, y = artist.get_position()
        artist.set_position((x + dx, y + dy))
    placed.append(_label_rect(artist, renderer, height))


def _render(
    img,
    bboxes,
    labels,
    masks,
    class_names,
    bbox_colors,
    text_colors,
    thickness,
    font_size,
):
    """Draw on ``img`` (RGB uint8) and return the RGB result, same size."""
    height, width = img.shape[:2]
    fig = Figure(frameon=False)
    canvas = FigureCanvasAgg(fig)
    dpi = fig.get_dpi()
    fig.set_size_inches((width + EPS) / dpi, (height + EPS) / dpi)
    # boxes and text are drawn on a transparent canvas and composited onto
    # the image, so pixels away from the drawings stay exactly as they were
    fig.patch.set_alpha(0)
    ax = fig.add_axes([0, 0, 1, 1])
    ax.axis('off')
    ax.patch.set_alpha(0)
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)

    scores = (
        bboxes[:, 4] if bboxes is not None and bboxes.shape[1] == 5 else None
    )
    texts = _label_texts(labels, scores, class_names)
    if bboxes is not None and len(bboxes):
        x1, y1, x2, y2 = (bboxes[:, i] for i in range(4))
        corners = np.stack(
            [
                np.stack([x1, y1], 1),
                np.stack([x1, y2], 1),
                np.stack([x2, y2], 1),
                np.stack([x2, y1], 1),
            ],
            axis=1,
        )
        ax.add_collection(
            PolyCollection(
                corners,
                facecolors='none',
                linewidths=thickness,
                edgecolors=[bbox_colors[label] for label in labels],
            )
        )
        # inside the box's top-left corner, as MMDetection 2.28 puts it
        anchors = list(zip(x1 + thickness, y1 + thickness))
        areas = (x2 - x1) * (y2 - y1)
        align = 'left'
    elif masks is not None:
        placed = [_mask_anchor(mask) for mask in masks]
        anchors = [anchor for anchor, _ in placed]
        areas = [area for _, area in placed]
        align = 'center'
    else:
        anchors, areas, align = [], [], 'left'
    renderer = canvas.get_renderer()
    placed = []
    for (x, y), text, label, scale in zip(
        anchors, texts, labels, label_scales(areas)
    ):
        artist = ax.text(
            x,
            y,
            text,
            color=text_colors[label],
            fontsize=font_size * scale,
            family='sans-serif',
            verticalalignment='top',
            horizontalalignment=align,
            bbox=dict(facecolor='black', alpha=0.8, pad=0.7, edgecolor='none'),
        )
        _place_label(artist, renderer, width, height, placed)

    canvas.draw()
    overlay = np.asarray(canvas.buffer_rgba(), dtype=np.float32)
    if overlay.shape[:2] != (height, width):
        overlay = mmcv.imresize(np.ascontiguousarray(overlay), (width, height))
    alpha = overlay[..., 3:] / 255
    drawn = img.astype(np.float32) * (1 - alpha) + overlay[..., :3] * alpha
    return np.clip(np.round(drawn), 0, 255).astype(np.uint8)


def _show(img, win_name, wait_time):
    if os.environ.get('DISPLAY') is None and os.name != 'nt':
        warnings.warn(
            'show=True but there is no display: nothing shown '
            '(use out_file to save the drawing)'
        )
        return
    mmcv.imshow(img, win_name, int(wait_time * 1000))


def imshow_det_bboxes(
    img,
    bboxes=None,
    labels=None,
    segms=None,
    class_names=None,
    score_thr=0,
    bbox_color='green',
    text_color='green',
    mask_color=None,
    thickness=2,
    font_size=13,
    win_name='',
    show=True,
    wait_time=0,
    out_file=None,
):
    """Draw detections (or ground truth) on an image.

    Args:
        img (str | ndarray): image path or BGR uint8 array (H, W, 3).
        bboxes (ndarray | None): (N, 4) boxes ``x1, y1, x2, y2`` or (N, 5)
            with a score, in pixels of ``img``.
        labels (ndarray | None): (N,) class indices.
        segms (ndarray | list | None): N binary (H, W) masks or RLE dicts.
        class_names (list[str] | None): names of the classes.
        score_thr (float): draw only detections scoring above it.
        bbox_color, text_color, mask_color: a palette (list of RGB tuples),
            one RGB tuple, a colour name, or None/'random' (random colours
            per class; for masks the default).
        thickness (float): box line width. font_size (float): label size
            in points for objects of 30000 px or more; smaller objects get
            down to half of it (``label_scales``). Labels stay inside the
            image and move off the labels drawn before them.
        win_name (str), show (bool), wait_time (float, seconds): OpenCV
            window, used only where a display exists.
        out_file (str | None): where to write the drawing.

    Returns:
        ndarray: the drawing, BGR uint8 of the input's size.
    """
    img = mmcv.imread(img).astype(np.uint8)
    height, width = img.shape[:2]
    if bboxes is not None:
        bboxes = np.asarray(bboxes, dtype=np.float32)
        bboxes = bboxes.reshape(
            -1, bboxes.shape[-1] if bboxes.ndim == 2 else 4
        )
    masks = _as_mask_array(segms, height, width)
    num = (
        len(bboxes)
        if bboxes is not None
        else (len(masks) if masks is not None else 0)
    )
    labels = (
        np.zeros(num, dtype=np.int64)
        if labels is None
        else np.asarray(labels, dtype=np.int64).reshape(-1)
    )
    if len(labels) != num:
        raise ValueError(f'{len(labels)} labels for {num} boxes/masks')
    if masks is not None and len(masks) != num:
        raise ValueError(f'{len(masks)} masks for {num} detections')
    bboxes, labels, masks = _filter_by_score(bboxes, labels, masks, score_thr)

    num_colors = max(
        [len(class_names or []), int(labels.max(initial=-1)) + 1, 1]
    )
    bbox_colors = palette_val(get_palette(bbox_color, num_colors))
    text_colors = palette_val(get_palette(text_color, num_colors))
    rgb = mmcv.bgr2rgb(img)
    if masks is not None and len(masks):
        rgb = _blend_masks(
            rgb, masks, labels, get_palette(mask_color, num_colors)
        )
    drawn = mmcv.rgb2bgr(
        _render(
            rgb,
            bboxes,
            labels,
            masks,
            class_names,
            bbox_colors,
            text_colors,
            thickness,
            font_size,
        )
    )
    if show:
        _show(drawn, win_name, wait_time)
    if out_file is not None:
        mmcv.imwrite(drawn, out_file)
    return drawn


def _split_result(result):
    """(bboxes (N, 5), labels (N,), segms or None) from a detector's
    per-class result list or ``(bbox_results, segm_results)``."""
    bbox_result, segm_result = (
        result if isinstance(result, tuple) else (result, None)
    )
    if isinstance(segm_result, tuple):  # (masks, mask scores)
        segm_result = segm_result[0]
    bboxes = (
        np.vstack([np.asarray(b).reshape(-1, 5) for b in bbox_result])
        if len(bbox_result)
        else np.zeros((0, 5), np.float32)
    )
    labels = (
        np.concatenate(
            [
                np.full(len(b), i, dtype=np.int64)
                for i, b in enumerate(bbox_result)
            ]
        )
        if len(bbox_result)
        else np.zeros(0, np.int64)
    )
    segms = None
    if segm_result is not None:
        segms = [m for class_masks in segm_result for m in class_masks]
    return bboxes, labels, segms


def pan_segments(pan, num_classes):
    """(K,) labels and (K, H, W) bool masks of the segments of an (H, W)
    panoptic map (``label + instance * INSTANCE_OFFSET``; the label
    ``num_classes`` is void and left out)."""
    ids = np.unique(pan)[::-1]
    ids = ids[ids % INSTANCE_OFFSET != num_classes]
    return ids % INSTANCE_OFFSET, pan[None] == ids[:, None, None]


def imshow_det_result(
    img,
    result,
    class_names=None,
    score_thr=0.3,
    bbox_color=(72, 101, 241),
    text_color=(72, 101, 241),
    mask_color=None,
    thickness=2,
    font_size=13,
    win_name='',
    show=False,
    wait_time=0,
    out_file=None,
):
    """Draw a detector's result on an image (``show_result`` of the
    detectors).

    Args:
        img (str | ndarray): the image or its path.
        result (list | tuple | dict): per class (n, 5) boxes, or
            ``(bbox_result, segm_result)``, or a panoptic result (its
            'pan_results' map drawn as one mask per segment).
        class_names (tuple[str], optional): names of the labels.
        score_thr (float): least score of a drawn box.
        bbox_color, text_color, mask_color: colours (name, BGR tuple
            or None for random masks).
        thickness (int), font_size (int): line and label sizes.
        win_name (str), show (bool), wait_time (float): display.
        out_file (str, optional): write the drawing there (and do not
            show it).

    Returns:
        ndarray | None: the drawn image when neither shown nor written.
    """
    img = mmcv.imread(img).copy()
    if isinstance(result, dict):
        labels, segms = pan_segments(result['pan_results'], len(class_names))
        return imshow_det_bboxes(
            img,
            None,
            labels,
            segms,
            class_names=class_names,
            bbox_color=bbox_color,
            text_color=text_color,
            mask_color=mask_color,
            thickness=thickness,
            font_size=font_size,
            win_name=win_name,
            show=show and out_file is None,
            wait_time=wait_time,
            out_file=out_file,
        )
    if isinstance(result, tuple):
        bbox_result, segm_result = result
        if isinstance(segm_result, tuple):
            segm_result = segm_result[0]  # (masks, mask scores)
    else:
        bbox_result, segm_result = result, None
    bboxes = np.vstack(bbox_result)
    labels = np.concatenate(
        [
            np.full(bbox.shape[0], i, dtype=np.int32)
            for i, bbox in enumerate(bbox_result)
        ]
    )
    segms = None
    if segm_result is not None and len(labels) > 0:
        segms = mmcv.concat_list(segm_result)
        if isinstance(segms[0], torch.Tensor):
            segms = torch.stack(segms, dim=0).detach().cpu().numpy()
        else:
            segms = np.stack(segms, axis=0)
    if out_file is not None:
        show = False
    img = imshow_det_bboxes(
        img,
        bboxes,
        labels,
        segms,
        class_names=class_names,
        score_thr=score_thr,
        bbox_color=bbox_color,
        text_color=text_color,
        mask_color=mask_color,
        thickness=thickness,
        font_size=font_size,
        win_name=win_name,
        show=show,
        wait_time=wait_time,
        out_file=out_file,
    )
    if not (show or out_file):
        return img
    return None


def imshow_gt_det_bboxes(
    img,
    annotation,
    result,
    class_names=None,
    score_thr=0,
    gt_bbox_color=(61, 102, 255),
    gt_text_color=(200, 200, 200),
    gt_mask_color=(61, 102, 255),
    det_bbox_color=(241, 101, 72),
    det_text_color=(200, 200, 200),
    det_mask_color=(241, 101, 72),
    thickness=2,
    font_size=13,
    win_name='',
    show=True,
    wait_time=0,
    out_file=None,
    overlay_gt_pred=True,
):
    """Ground truth and detections on one image.

    Args:
        annotation (dict): ``gt_bboxes`` (N, 4), ``gt_labels`` (N,) and
            optionally ``gt_masks`` (BitmapMasks/PolygonMasks or (N, H, W)).
        result (list | tuple): the detector's result for the image.
        overlay_gt_pred (bool): draw both on one image; otherwise stack the
            ground truth drawing above the detection drawing.
    Other arguments are those of ``imshow_det_bboxes``.

    Returns:
        ndarray: the drawing (BGR).
    """
    img = mmcv.imread(img).astype(np.uint8)
    gt_masks = annotation.get('gt_masks')
    if gt_masks is not None:
        # BitmapMasks / PolygonMasks / Tensor / ndarray; else a TypeError
        gt_masks = mask2ndarray(gt_masks)
    gt_drawn = imshow_det_bboxes(
        img,
        annotation['gt_bboxes'],
        annotation['gt_labels'],
        gt_masks,
        class_names=class_names,
        bbox_color=gt_bbox_color,
        text_color=gt_text_color,
        mask_color=gt_mask_color,
        thickness=thickness,
        font_size=font_size,
        show=False,
    )
    bboxes, labels, segms = _split_result(result)
    det_drawn = imshow_det_bboxes(
        gt_drawn if overlay_gt_pred else img,
        bboxes,
        labels,
        segms,
        class_names=class_names,
        score_thr=score_thr,
        bbox_color=det_bbox_color,
        text_color=det_text_color,
        mask_color=det_mask_color,
        thickness=thickness,
        font_size=font_size,
        show=False,
    )
    drawn = (
        det_drawn
        if overlay_gt_pred
        else np.concatenate([gt_drawn, det_drawn], axis=0)
    )
    if show:
        _show(drawn, win_name, wait_time)
    if out_file is not None:
        mmcv.imwrite(drawn, out_file)
    return drawn
