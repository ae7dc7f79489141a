"""A tiny synthetic COCO-format data set, generated from a seed in seconds.

Small images (128 px by default) of coloured shapes — circle, square,
triangle, cross — on noisy, textured grey backgrounds. Objects may overlap
(the later one on top; the earlier one's mask is its visible part), a few
images hold a crowd region (a cluster of tiny shapes, ``iscrowd=1``,
uncompressed RLE as COCO stores crowds) and a few hold nothing. Masks are
polygons. It is meant to be learnable from scratch on a CPU within minutes
(bbox mAP >= 0.5 with a small detector at the 'easy' level).

Layout written under ``out_dir``::

    annotations/instances_train.json   annotations/instances_val.json
    train/000001.jpg ...               val/000001.jpg ...

Every image is drawn from its own generator seeded with ``(seed, split,
index)``, so the output depends only on the arguments.
"""

import math
import os
import os.path as osp
from dataclasses import dataclass

import cv2
import mmcv
import numpy as np
import pycocotools.mask as mask_utils
import torch

from mmdet.core.bbox import bbox_overlaps

TINY_COCO_CLASSES = ('circle', 'square', 'triangle', 'cross')

# BGR base colour of each class ('easy' and 'medium' tie colour to class)
CLASS_COLORS = np.array(
    [
        (40, 40, 220),  # circle: red
        (40, 200, 40),  # square: green
        (220, 90, 30),  # triangle: blue
        (30, 210, 230),  # cross: yellow
    ],
    dtype=np.float32,
)


@dataclass(frozen=True)
class Difficulty:
    """Knobs of one difficulty level (sizes are fractions of the long image
    side; ``color_jitter`` in 0..255 per channel; ``random_colors`` makes
    colour meaningless, leaving shape only)."""

    size_range: tuple
    max_objects: int
    color_jitter: float
    random_colors: bool
    rotate: bool
    noise_sigma: float
    texture_amp: float
    min_visible: float


DIFFICULTIES = {
    'easy': Difficulty((0.19, 0.42), 3, 12, False, False, 5, 18, 0.7),
    'medium': Difficulty((0.15, 0.38), 4, 30, False, True, 10, 28, 0.6),
    'hard': Difficulty((0.125, 0.35), 4, 0, True, True, 16, 40, 0.5),
}

# images with no object: index % 16 == 7 (about 6%); images that also
# hold a crowd region: index % 12 == 3 (about 8%); fixed by index so that
# even a 16-image split has both
EMPTY_EVERY, EMPTY_AT = 16, 7
CROWD_EVERY, CROWD_AT = 12, 3
MAX_BOX_IOU = 0.45  # between any two objects' full boxes
CONTOUR_UPSAMPLE = 4  # occluded masks are traced at 4x for sub-pixel edges


# -- shapes -----------------------------------------------------------------


def shape_polygon(kind, cx, cy, size, angle):
    """(P, 2) vertices (pixel-edge coordinates) of a shape about (cx, cy)
    whose extent is about ``size`` pixels, rotated by ``angle`` radians."""
    r = size / 2
    if kind == 'circle':
        t = np.linspace(0, 2 * np.pi, 40, endpoint=False)
        pts = np.stack([np.cos(t), np.sin(t)], 1) * r
        angle = 0.0
    elif kind == 'square':
        s = r * 0.85
        pts = np.array([[-s, -s], [s, -s], [s, s], [-s, s]])
    elif kind == 'triangle':
        t = np.deg2rad([-90, 30, 150])
        pts = np.stack([np.cos(t), np.sin(t)], 1) * r
        pts[:, 1] += r * 0.25  # centre the box vertically
    elif kind == 'cross':
        a, b = r, r / 3
        pts = np.array(
            [
                [-b, -a],
                [b, -a],
                [b, -b],
                [a, -b],
                [a, b],
                [b, b],
                [b, a],
                [-b, a],
                [-b, b],
                [-a, b],
                [-a, -b],
                [-b, -b],
            ]
        )
    else:
        raise ValueError(f'unknown shape {kind!r}')
    c, s = math.cos(angle), math.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    return pts @ rot.T + np.array([cx, cy])


def rasterize(polygons, height, width):
    """(H, W) bool of flat polygons, rasterized as pycocotools does (so the
    painted pixels are what the annotation decodes to)."""
    rles = mask_utils.frPyObjects(
        [np.asarray(p, np.float64).ravel().tolist() for p in polygons],
        height,
        width,
    )
    return mask_utils.decode(mask_utils.merge(rles)).astype(bool)


def mask_to_polygons(mask):
    """Polygons (flat lists, pixel-edge coordinates) tracing a binary mask,
    found at CONTOUR_UPSAMPLE x resolution so edges sit within 1/8 px."""
    k = CONTOUR_UPSAMPLE
    big = np.kron(mask.astype(np.uint8), np.ones((k, k), np.uint8))
    contours, _ = cv2.findContours(
        big, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
    )
    polygons = []
    for contour in contours:
        contour = cv2.approxPolyDP(contour, 1.0, True).reshape(-1, 2)
        if len(contour) < 3 or cv2.contourArea(contour) < k * k:
            continue
        polygons.append(((contour + 0.5) / k).ravel())
    return polygons


def _box_of_points(pts):
    return np.concatenate([pts.min(0), pts.max(0)])


def _max_iou(box, boxes):
    """Largest IoU of ``box`` (4,) with ``boxes`` (N, 4); 0 for none
    (``bbox_overlaps`` in float64)."""
    if len(boxes) == 0:
        return 0.0
    ious = bbox_overlaps(
        torch.from_numpy(np.asarray([box], np.float64)),
        torch.from_numpy(np.asarray(boxes, np.float64)),
    )
    return float(ious.max())


# -- one image --------------------------------------------------------------


def _background(rng, height, width, level):
    """Grey, low-saturation background with a gradient and smooth blobs."""
    base = rng.uniform(70, 180) + rng.uniform(-12, 12, size=3)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    theta = rng.uniform(0, 2 * np.pi)
    ramp = (
        np.cos(theta) * xx / width + np.sin(theta) * yy / height
    ) * rng.uniform(-30, 30)
    coarse = rng.normal(0, 1, size=(6, 6, 1)).astype(np.float32)
    blobs = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)[
        ..., None
    ]
    img = base[None, None, :] + ramp[..., None] + blobs * level.texture_amp
    return img.astype(np.float32)


def _object_color(rng, label, level):
    if level.random_colors:
        return rng.uniform(20, 235, size=3).astype(np.float32)
    jitter = rng.uniform(-level.color_jitter, level.color_jitter, size=3)
    return np.clip(CLASS_COLORS[label] + jitter, 0, 255)


def _place_crowd(rng, height, width):
    """A crowd: 6-12 tiny circles of one class inside a ~35 px region.
    Returns (label, (H, W) mask, region box)."""
    side = int(max(height, width) * rng.uniform(0.25, 0.32))
    x0 = rng.uniform(0, width - side)
    y0 = rng.uniform(0, height - side)
    polys = []
    for _ in range(rng.integers(6, 13)):
        d = rng.uniform(4, 7)
        cx = x0 + rng.uniform(d / 2, side - d / 2)
        cy = y0 + rng.uniform(d / 2, side - d / 2)
        polys.append(shape_polygon('circle', cx, cy, d, 0.0).ravel())
    return (
        int(rng.integers(len(TINY_COCO_CLASSES))),
        rasterize(polys, height, width),
        np.array([x0, y0, x0 + side, y0 + side]),
    )


def _sample_objects(rng, height, width, level, blocked_box):
    """Non-crowd objects: list of (label, polygon (P, 2), full mask),
    bottom to top; each keeps >= min_visible of its area once the later
    ones are drawn over it."""
    objects = []
    num = int(rng.integers(1, level.max_objects + 1))
    side = max(height, width)
    for _ in range(num):
        for _attempt in range(20):
            label = int(rng.integers(len(TINY_COCO_CLASSES)))
            size = rng.uniform(*level.size_range) * side
            cx = rng.uniform(size / 2, width - size / 2)
            cy = rng.uniform(size / 2, height - size / 2)
            angle = rng.uniform(-0.5, 0.5) if level.rotate else 0.0
            poly = shape_polygon(TINY_COCO_CLASSES[label], cx, cy, size, angle)
            box = _box_of_points(poly)
            if (
                box[0] < 0 or box[1] < 0 or box[2] > width or box[3] > height
            ):  # rotated corners may stick out
                continue
            if blocked_box is not None and _max_iou(box, [blocked_box]) > 0:
                continue
            if (
                _max_iou(box, [_box_of_points(p) for _, p, _ in objects])
                > MAX_BOX_IOU
            ):
                continue
            mask = rasterize([poly.ravel()], height, width)
            if mask.sum() < 64 or not _keeps_visible(objects, mask, level):
                continue
            objects.append((label, poly, mask))
            break
    return objects


def _keeps_visible(objects, new_mask, level):
    """Would every earlier object keep enough of itself under new_mask?"""
    above = new_mask.copy()
    for _, _, mask in reversed(objects):  # top-most earlier object first
        if (mask & ~above).sum() < level.min_visible * mask.sum():
            return False
        above |= mask
    return True


def _polygon_annotation(label, polygons, height, width):
    """COCO annotation (no ids) of an object given by flat polygons."""
    pts = np.concatenate([np.asarray(p).reshape(-1, 2) for p in polygons])
    (x1, y1), (x2, y2) = pts.min(0), pts.max(0)
    segmentation = [
        np.round(np.asarray(p, np.float64), 2).tolist() for p in polygons
    ]
    rles = mask_utils.frPyObjects(segmentation, height, width)
    area = float(mask_utils.area(mask_utils.merge(rles)))
    return dict(
        category_id=label + 1,
        iscrowd=0,
        area=area,
        bbox=[round(float(v), 2) for v in (x1, y1, x2 - x1, y2 - y1)],
        segmentation=segmentation,
    )


def _crowd_annotation(label, mask):
    """COCO crowd annotation (no ids): uncompressed RLE, as COCO has."""
    rle = _uncompressed_rle(mask)
    bbox = mask_utils.toBbox(mask_utils.frPyObjects(rle, *rle['size']))
    return dict(
        category_id=label + 1,
        iscrowd=1,
        area=float(mask.sum()),
        bbox=[float(v) for v in bbox],
        segmentation=rle,
    )


def _uncompressed_rle(mask):
    """COCO's crowd format: column-major run lengths, starting with 0s."""
    flat = np.asfortranarray(mask.astype(np.uint8)).ravel(order='F')
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat[0] == 1:
        counts = [0] + counts
    return dict(
        size=[int(mask.shape[0]), int(mask.shape[1])],
        counts=[int(c) for c in counts],
    )


def generate_image(rng, height, width, level, empty=False, with_crowd=False):
    """One image (BGR uint8) and its annotations (COCO dicts, no ids)."""
    img = _background(rng, height, width, level)
    anns = []
    if empty:
        objects, crowd = [], None
    else:
        crowd = _place_crowd(rng, height, width) if with_crowd else None
        objects = _sample_objects(
            rng, height, width, level, crowd[2] if crowd else None
        )
    if crowd is not None:
        label, mask, _ = crowd
        img[mask] = _object_color(rng, label, level)
        anns.append(_crowd_annotation(label, mask))
    covered = np.zeros((height, width), dtype=bool)
    for i in range(len(objects) - 1, -1, -1):  # top to bottom
        label, poly, mask = objects[i]
        visible = mask & ~covered
        covered |= mask
        if visible.sum() == mask.sum():
            polygons = [poly.ravel()]
        else:
            polygons = mask_to_polygons(visible)
        if not polygons:
            continue
        anns.append(_polygon_annotation(label, polygons, height, width))
    for label, _, mask in objects:  # paint bottom to top
        shade = np.linspace(-8, 8, width, dtype=np.float32)[None, :, None]
        color = _object_color(rng, label, level)[None, None, :] + shade
        img[mask] = np.broadcast_to(color, img.shape)[mask]
    img += rng.normal(0, level.noise_sigma, size=img.shape)
    return np.clip(img, 0, 255).astype(np.uint8), anns


# -- the data set -----------------------------------------------------------


def _image_size(rng, size):
    """Square half the time, else 4:3 landscape or portrait (multiples of
    8), so the aspect-ratio groups are both used."""
    short = int(round(size * 0.75 / 8) * 8)
    choice = rng.choice(3, p=[0.5, 0.25, 0.25])
    return [(size, size), (short, size), (size, short)][choice]


def make_split(out_dir, split, num_images, seed, size, level):
    """Write ``split/*.jpg`` and ``annotations/instances_<split>.json``."""
    img_dir = osp.join(out_dir, split)
    mmcv.mkdir_or_exist(img_dir)
    split_id = {'train': 0, 'val': 1}.get(split, 2)
    images, annotations = [], []
    for idx in range(1, num_images + 1):
        rng = np.random.default_rng([seed, split_id, idx])
        height, width = _image_size(rng, size)
        img, anns = generate_image(
            rng,
            height,
            width,
            level,
            empty=idx % EMPTY_EVERY == EMPTY_AT,
            with_crowd=idx % CROWD_EVERY == CROWD_AT,
        )
        file_name = f'{idx:06d}.jpg'
        cv2.imwrite(
            osp.join(img_dir, file_name), img, [cv2.IMWRITE_JPEG_QUALITY, 92]
        )
        images.append(
            dict(id=idx, file_name=file_name, height=height, width=width)
        )
        for ann in anns:
            ann.update(id=len(annotations) + 1, image_id=idx)
            annotations.append(ann)
    categories = [
        dict(id=i + 1, name=name, supercategory='shape')
        for i, name in enumerate(TINY_COCO_CLASSES)
    ]
    data = dict(
        info=dict(
            description=f'tiny synthetic COCO ({split}), seed {seed}',
            version='1.0',
        ),
        licenses=[],
        images=images,
        annotations=annotations,
        categories=categories,
    )
    ann_file = osp.join(out_dir, 'annotations', f'instances_{split}.json')
    mmcv.mkdir_or_exist(osp.dirname(ann_file))
    mmcv.dump(data, ann_file)
    return ann_file, len(annotations)


def make_tiny_coco(
    out_dir='data/tiny_coco',
    seed=0,
    num_train=400,
    num_val=100,
    size=128,
    difficulty='easy',
):
    """Generate the tiny data set.

    Args:
        out_dir (str): where to write it.
        seed (int): the same seed gives the same files.
        num_train (int), num_val (int): images per split.
        size (int): the longer image side in pixels (>= 64).
        difficulty (str): 'easy' (class = shape and colour), 'medium'
            (smaller, rotated, colour jitter, more noise) or 'hard' (random
            colours: shape only).

    Returns:
        dict: the annotation files and counts.
    """
    if difficulty not in DIFFICULTIES:
        raise ValueError(
            f'difficulty must be one of {list(DIFFICULTIES)}, '
            f'got {difficulty!r}'
        )
    if size < 64:
        raise ValueError(f'size must be >= 64 pixels, got {size}')
    level = DIFFICULTIES[difficulty]
    os.makedirs(out_dir, exist_ok=True)
    info = dict(out_dir=out_dir, classes=TINY_COCO_CLASSES)
    for split, num in (('train', num_train), ('val', num_val)):
        ann_file, num_anns = make_split(out_dir, split, num, seed, size, level)
        info[split] = dict(ann_file=ann_file, images=num, annotations=num_anns)
    return info
