"""Multi-image and affine transforms of YOLOX and copy-paste
(MMDetection 2.x's names, arguments and order of random draws).

Mosaic, MixUp and CopyPaste read the other images from
``results['mix_results']`` (a list of result dicts), which the
``MultiImageMixDataset`` wrapper fills using each transform's
``get_indexes(dataset)``.
"""

import math

import cv2
import mmcv
import numpy as np

from mmdet.core.bbox.transforms import find_inside_bboxes
from mmdet.core.mask.structures import BitmapMasks
from mmdet.utils.arg_errors import InvalidArgumentError
from ..registry import PIPELINES
from .crop import clip_boxes


def _check_mix(results, count, name):
    mixes = results.get('mix_results')
    if mixes is None or len(mixes) != count:
        raise InvalidArgumentError(
            f'{name} needs results["mix_results"] with {count} sample(s)'
        )
    return mixes


def wh_filter(old, new, min_size, min_area_ratio, max_aspect_ratio):
    """(n,) bool: boxes ``new`` that stay wider and taller than
    ``min_size``, keep ``min_area_ratio`` of the area of ``old`` and have
    an aspect ratio under ``max_aspect_ratio``."""
    ow, oh = old[:, 2] - old[:, 0], old[:, 3] - old[:, 1]
    w, h = new[:, 2] - new[:, 0], new[:, 3] - new[:, 1]
    aspect = np.maximum(w / (h + 1e-16), h / (w + 1e-16))
    return (
        (w > min_size)
        & (h > min_size)
        & (w * h / (ow * oh + 1e-16) > min_area_ratio)
        & (aspect < max_aspect_ratio)
    )


def _span(near_center, center, size, limit):
    """Paste ``[a, b)`` and crop ``[c, d)`` along one axis for a patch of
    ``size`` pixels lying before (``near_center='before'``) or after the
    mosaic centre, inside ``[0, limit)``."""
    if near_center == 'before':
        a, b = max(center - size, 0), center
        return (a, b), (size - (b - a), size)
    a, b = center, min(center + size, limit)
    return (a, b), (0, b - a)


@PIPELINES.register_module()
class Mosaic:
    """Tile this image and three from ``mix_results`` around a random
    centre of a ``2h x 2w`` canvas (``img_scale = (h, w)``), each resized
    to fit ``h x w`` with its aspect kept.

    Args:
        center_ratio_range (tuple): centre in ``img_scale`` units.
        min_bbox_size (float): with ``skip_filter=False``, drop thinner
            boxes.
        pad_val (float): canvas fill.
        prob (float): probability of applying it.
    """

    QUADRANTS = (
        ('before', 'before'),
        ('after', 'before'),
        ('before', 'after'),
        ('after', 'after'),
    )

    def __init__(
        self,
        img_scale=(640, 640),
        center_ratio_range=(0.5, 1.5),
        min_bbox_size=0,
        bbox_clip_border=True,
        skip_filter=True,
        pad_val=114,
        prob=1.0,
    ):
        if not isinstance(img_scale, tuple):
            raise InvalidArgumentError('Mosaic img_scale must be a tuple')
        if not 0 <= prob <= 1:
            raise InvalidArgumentError(f'prob must be in [0, 1], got {prob}')
        self.img_scale = img_scale
        self.center_ratio_range = center_ratio_range
        self.min_bbox_size = min_bbox_size
        self.bbox_clip_border = bbox_clip_border
        self.skip_filter = skip_filter
        self.pad_val = pad_val
        self.prob = prob

    def get_indexes(self, dataset):
        """Three random indexes of ``dataset`` to mix in."""
        return [np.random.randint(0, len(dataset)) for _ in range(3)]

    def _paste(self, canvas, sample, center, quadrant):
        """Paste one resized sample; return its boxes on the canvas."""
        img = sample['img']
        h, w = img.shape[:2]
        ratio = min(self.img_scale[0] / h, self.img_scale[1] / w)
        img = mmcv.imresize(img, (int(w * ratio), int(h * ratio)))
        (x1, x2), (cx1, cx2) = _span(
            quadrant[0], center[0], img.shape[1], canvas.shape[1]
        )
        (y1, y2), (cy1, cy2) = _span(
            quadrant[1], center[1], img.shape[0], canvas.shape[0]
        )
        canvas[y1:y2, x1:x2] = img[cy1:cy2, cx1:cx2]
        boxes = sample['gt_bboxes'].copy()
        boxes[:, 0::2] = ratio * boxes[:, 0::2] + (x1 - cx1)
        boxes[:, 1::2] = ratio * boxes[:, 1::2] + (y1 - cy1)
        return boxes

    def _mosaic_transform(self, results):
        samples = [results] + list(_check_mix(results, 3, 'Mosaic'))
        img = results['img']
        out_h, out_w = int(self.img_scale[0] * 2), int(self.img_scale[1] * 2)
        canvas = np.full(
            (out_h, out_w) + img.shape[2:3], self.pad_val, dtype=img.dtype
        )
        lo, hi = self.center_ratio_range
        center_x = int(np.random.uniform(lo, hi) * self.img_scale[1])
        center_y = int(np.random.uniform(lo, hi) * self.img_scale[0])
        boxes = np.concatenate(
            [
                self._paste(canvas, s, (center_x, center_y), q)
                for s, q in zip(samples, self.QUADRANTS)
            ]
        )
        labels = np.concatenate([s['gt_labels'] for s in samples])
        if self.bbox_clip_border:
            clip_boxes(boxes, out_h, out_w)
        if not self.skip_filter:
            bw, bh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
            keep = (bw > self.min_bbox_size) & (bh > self.min_bbox_size)
            boxes, labels = boxes[keep], labels[keep]
        inside = find_inside_bboxes(boxes, out_h, out_w)
        results['img'] = canvas
        results['img_shape'] = canvas.shape
        results['gt_bboxes'] = boxes[inside]
        results['gt_labels'] = labels[inside]
        return results

    def __call__(self, results):
        if np.random.uniform(0, 1) > self.prob:
            return results
        return self._mosaic_transform(results)

    def __repr__(self):
        return (
            f'{self.__class__.__name__}(img_scale={self.img_scale}, '
            f'center_ratio_range={self.center_ratio_range}, '
            f'pad_val={self.pad_val}, min_bbox_size={self.min_bbox_size}, '
            f'skip_filter={self.skip_filter})'
        )


@PIPELINES.register_module()
class MixUp:
    """YOLOX's mixup: the sample in ``mix_results`` is fitted into
    ``img_scale = (h, w)``, jittered in scale by ``ratio_range``, flipped
    with ``flip_ratio``, cropped at a random offset to this image's size
    and blended 50/50; the boxes of both are kept."""

    def __init__(
        self,
        img_scale=(640, 640),
        ratio_range=(0.5, 1.5),
        flip_ratio=0.5,
        pad_val=114,
        max_iters=15,
        min_bbox_size=5,
        min_area_ratio=0.2,
        max_aspect_ratio=20,
        bbox_clip_border=True,
        skip_filter=True,
    ):
        if not isinstance(img_scale, tuple):
            raise InvalidArgumentError('MixUp img_scale must be a tuple')
        self.dynamic_scale = img_scale
        self.ratio_range = ratio_range
        self.flip_ratio = flip_ratio
        self.pad_val = pad_val
        self.max_iters = max_iters
        self.min_bbox_size = min_bbox_size
        self.min_area_ratio = min_area_ratio
        self.max_aspect_ratio = max_aspect_ratio
        self.bbox_clip_border = bbox_clip_border
        self.skip_filter = skip_filter

    def get_indexes(self, dataset):
        """A random index whose sample has boxes (up to max_iters tries)."""
        for _ in range(self.max_iters):
            index = np.random.randint(0, len(dataset))
            if len(dataset.get_ann_info(index)['bboxes']) != 0:
                break
        return index

    def _fitted(self, img, jit):
        """``img`` fitted on a padded ``dynamic_scale`` canvas, times jit."""
        dh, dw = self.dynamic_scale
        canvas = np.full((dh, dw) + img.shape[2:3], self.pad_val, img.dtype)
        ratio = min(dh / img.shape[0], dw / img.shape[1])
        img = mmcv.imresize(
            img, (int(img.shape[1] * ratio), int(img.shape[0] * ratio))
        )
        canvas[: img.shape[0], : img.shape[1]] = img
        canvas = mmcv.imresize(canvas, (int(dw * jit), int(dh * jit)))
        return canvas, ratio * jit

    def _mix_boxes(self, boxes, ratio, flip, mixed_hw, offset, target_hw):
        """Boxes on the jittered canvas and after the crop at ``offset``."""
        boxes = boxes * ratio
        if self.bbox_clip_border:
            clip_boxes(boxes, *mixed_hw)
        if flip:
            boxes[:, 0::2] = mixed_hw[1] - boxes[:, 0::2][:, ::-1]
        cropped = boxes - np.array(offset * 2, dtype=boxes.dtype)
        if self.bbox_clip_border:
            clip_boxes(cropped, *target_hw)
        return boxes, cropped

    def _mixup_transform(self, results):
        other = _check_mix(results, 1, 'MixUp')[0]
        if other['gt_bboxes'].shape[0] == 0:
            return results
        jit = np.random.uniform(*self.ratio_range)
        flip = np.random.uniform(0, 1) < self.flip_ratio
        mixed, ratio = self._fitted(other['img'], jit)
        if flip:
            mixed = mixed[:, ::-1]
        img = results['img']
        th, tw = img.shape[:2]
        oh, ow = mixed.shape[:2]
        padded = np.zeros((max(oh, th), max(ow, tw), 3), dtype=np.uint8)
        padded[:oh, :ow] = mixed
        y_off = np.random.randint(0, padded.shape[0] - th) if oh > th else 0
        x_off = np.random.randint(0, padded.shape[1] - tw) if ow > tw else 0
        patch = padded[y_off : y_off + th, x_off : x_off + tw]
        boxes, cropped = self._mix_boxes(
            other['gt_bboxes'], ratio, flip, (oh, ow), [x_off, y_off], (th, tw)
        )
        labels = other['gt_labels']
        if not self.skip_filter:
            keep = wh_filter(
                boxes,
                cropped,
                self.min_bbox_size,
                self.min_area_ratio,
                self.max_aspect_ratio,
            )
            cropped, labels = cropped[keep], labels[keep]
        all_boxes = np.concatenate((results['gt_bboxes'], cropped))
        all_labels = np.concatenate((results['gt_labels'], labels))
        inside = find_inside_bboxes(all_boxes, th, tw)
        blend = 0.5 * img.astype(np.float32) + 0.5 * patch.astype(np.float32)
        results['img'] = blend.astype(np.uint8)
        results['img_shape'] = blend.shape
        results['gt_bboxes'] = all_boxes[inside]
        results['gt_labels'] = all_labels[inside]
        return results

    def __call__(self, results):
        return self._mixup_transform(results)

    def __repr__(self):
        return (
            f'{self.__class__.__name__}(dynamic_scale={self.dynamic_scale}, '
            f'ratio_range={self.ratio_range}, '
            f'flip_ratio={self.flip_ratio}, pad_val={self.pad_val}, '
            f'max_iters={self.max_iters}, '
            f'min_bbox_size={self.min_bbox_size}, '
            f'min_area_ratio={self.min_area_ratio}, '
            f'max_aspect_ratio={self.max_aspect_ratio}, '
            f'skip_filter={self.skip_filter})'
        )


def _matrix(rows):
    return np.array(rows, dtype=np.float32)


@PIPELINES.register_module()
class RandomAffine:
    """YOLOX's random affine: ``T @ Shear @ R @ S`` about the origin, with
    rotation in ``+-max_rotate_degree``, scale in ``scaling_ratio_range``,
    x/y shear in ``+-max_shear_degree`` and translation in
    ``+-max_translate_ratio`` of the output size. The output is the input
    size plus ``2 * border = (2 * bh, 2 * bw)``. Boxes become the bounds of
    their warped corners; masks are not supported."""

    def __init__(
        self,
        max_rotate_degree=10.0,
        max_translate_ratio=0.1,
        scaling_ratio_range=(0.5, 1.5),
        max_shear_degree=2.0,
        border=(0, 0),
        border_val=(114, 114, 114),
        min_bbox_size=2,
        min_area_ratio=0.2,
        max_aspect_ratio=20,
        bbox_clip_border=True,
        skip_filter=True,
    ):
        lo, hi = scaling_ratio_range
        if not (0 <= max_translate_ratio <= 1 and 0 < lo <= hi):
            raise InvalidArgumentError(
                'RandomAffine needs 0 <= max_translate_ratio <= 1 and '
                '0 < scaling_ratio_range[0] <= scaling_ratio_range[1]'
            )
        self.max_rotate_degree = max_rotate_degree
        self.max_translate_ratio = max_translate_ratio
        self.scaling_ratio_range = scaling_ratio_range
        self.max_shear_degree = max_shear_degree
        self.border = border
        self.border_val = border_val
        self.min_bbox_size = min_bbox_size
        self.min_area_ratio = min_area_ratio
        self.max_aspect_ratio = max_aspect_ratio
        self.bbox_clip_border = bbox_clip_border
        self.skip_filter = skip_filter

    def _draw_matrix(self, width, height):
        """(3, 3) float32 warp and the scale factor, drawn in MMDetection's
        order: rotation, scale, x shear, y shear, x and y translation."""
        rad = math.radians(
            np.random.uniform(-self.max_rotate_degree, self.max_rotate_degree)
        )
        rotate = _matrix(
            [
                [np.cos(rad), -np.sin(rad), 0],
                [np.sin(rad), np.cos(rad), 0],
                [0, 0, 1],
            ]
        )
        scale = np.random.uniform(*self.scaling_ratio_range)
        scaling = _matrix([[scale, 0, 0], [0, scale, 0], [0, 0, 1]])
        m = self.max_shear_degree
        sx = math.tan(math.radians(np.random.uniform(-m, m)))
        sy = math.tan(math.radians(np.random.uniform(-m, m)))
        shear = _matrix([[1, sx, 0], [sy, 1, 0], [0, 0, 1]])
        t = self.max_translate_ratio
        tx = np.random.uniform(-t, t) * width
        ty = np.random.uniform(-t, t) * height
        translate = _matrix([[1, 0, tx], [0, 1, ty], [0, 0, 1]])
        return translate @ shear @ rotate @ scaling, scale

    @staticmethod
    def warp_boxes(bboxes, matrix):
        """(n, 4) bounds of the four corners of each box under ``matrix``."""
        n = len(bboxes)
        xs = bboxes[:, [0, 0, 2, 2]].reshape(n * 4)
        ys = bboxes[:, [1, 3, 3, 1]].reshape(n * 4)
        pts = matrix @ np.vstack([xs, ys, np.ones_like(xs)])
        xs = (pts[0] / pts[2]).reshape(n, 4)
        ys = (pts[1] / pts[2]).reshape(n, 4)
        return np.stack([xs.min(1), ys.min(1), xs.max(1), ys.max(1)], 1)

    def _warp_field(self, results, key, matrix, scale, height, width):
        bboxes = results[key]
        warped = self.warp_boxes(bboxes, matrix)
        if self.bbox_clip_border:
            clip_boxes(warped, height, width)
        valid = find_inside_bboxes(warped, height, width)
        if not self.skip_filter:
            valid &= wh_filter(
                bboxes * scale,
                warped,
                self.min_bbox_size,
                self.min_area_ratio,
                self.max_aspect_ratio,
            )
        results[key] = warped[valid]
        if key == 'gt_bboxes' and 'gt_labels' in results:
            results['gt_labels'] = results['gt_labels'][valid]

    def __call__(self, results):
        img = results['img']
        height = img.shape[0] + self.border[0] * 2
        width = img.shape[1] + self.border[1] * 2
        matrix, scale = self._draw_matrix(width, height)
        img = cv2.warpPerspective(
            img, matrix, dsize=(width, height), borderValue=self.border_val
        )
        results['img'] = img
        results['img_shape'] = img.shape
        for key in results.get('bbox_fields', []):
            if len(results[key]) == 0:
                continue
            if 'gt_masks' in results:
                raise NotImplementedError('RandomAffine only supports boxes')
            self._warp_field(results, key, matrix, scale, height, width)
        return results

    def __repr__(self):
        return (
            f'{self.__class__.__name__}('
            f'max_rotate_degree={self.max_rotate_degree}, '
            f'max_translate_ratio={self.max_translate_ratio}, '
            f'scaling_ratio={self.scaling_ratio_range}, '
            f'max_shear_degree={self.max_shear_degree}, '
            f'border={self.border}, border_val={self.border_val}, '
            f'min_bbox_size={self.min_bbox_size}, '
            f'min_area_ratio={self.min_area_ratio}, '
            f'max_aspect_ratio={self.max_aspect_ratio}, '
            f'skip_filter={self.skip_filter})'
        )


def box_masks(bboxes, img_shape):
    """BitmapMasks filling each box (integer-truncated corners)."""
    h, w = img_shape[:2]
    masks = np.zeros((len(bboxes), h, w), dtype=np.uint8)
    for mask, (x1, y1, x2, y2) in zip(masks, bboxes):
        mask[int(y1) : int(y2), int(x1) : int(x2)] = 1
    return BitmapMasks(masks, h, w)


@PIPELINES.register_module()
class CopyPaste:
    """Simple Copy-Paste: paste a random subset (up to ``max_num_pasted``)
    of the objects of ``mix_results[0]`` onto this image. Objects of this
    image are kept when their box moved by at most ``bbox_occluded_thr``
    pixels or more than ``mask_occluded_thr`` of their pixels stay visible.
    Without ``gt_masks`` the boxes serve as masks and no masks are output.
    """

    def __init__(
        self,
        max_num_pasted=100,
        bbox_occluded_thr=10,
        mask_occluded_thr=300,
        selected=True,
    ):
        self.max_num_pasted = max_num_pasted
        self.bbox_occluded_thr = bbox_occluded_thr
        self.mask_occluded_thr = mask_occluded_thr
        self.selected = selected

    def get_indexes(self, dataset):
        """One random index of ``dataset``."""
        return np.random.randint(0, len(dataset))

    def _select(self, src):
        n = src['gt_bboxes'].shape[0]
        count = np.random.randint(0, min(n + 1, self.max_num_pasted))
        inds = np.random.choice(n, size=count, replace=False)
        return {
            'img': src['img'],
            'gt_bboxes': src['gt_bboxes'][inds],
            'gt_labels': src['gt_labels'][inds],
            'gt_masks': src['gt_masks'][inds],
        }

    def _paste(self, dst, src):
        src_masks = src['gt_masks'].masks
        pasted = np.any(src_masks, axis=0)
        kept = np.where(pasted, 0, dst['gt_masks'].masks)
        h, w = kept.shape[1:]
        new_boxes = BitmapMasks(kept, h, w).get_bboxes()
        shift_ok = np.all(
            np.abs(new_boxes - dst['gt_bboxes']) <= self.bbox_occluded_thr,
            axis=-1,
        )
        valid = shift_ok | (kept.sum(axis=(1, 2)) > self.mask_occluded_thr)
        alpha = pasted[..., None]
        img = np.where(alpha, src['img'], dst['img']).astype(dst['img'].dtype)
        masks = np.concatenate([kept[valid], src_masks])
        dst['img'] = img
        dst['gt_bboxes'] = np.concatenate([new_boxes[valid], src['gt_bboxes']])
        dst['gt_labels'] = np.concatenate(
            [dst['gt_labels'][valid], src['gt_labels']]
        )
        dst['gt_masks'] = BitmapMasks(masks, h, w)
        return dst

    def __call__(self, results):
        src = dict(_check_mix(results, 1, 'CopyPaste')[0])
        by_box = results.get('gt_masks') is None
        for sample in (results, src):
            if sample.get('gt_masks') is None:
                sample['gt_masks'] = box_masks(
                    sample['gt_bboxes'], sample['img'].shape
                )
        if self.selected:
            src = self._select(src)
        if len(src['gt_bboxes']):
            results = self._paste(results, src)
        if by_box:
            results.pop('gt_masks')
        return results

    def __repr__(self):
        return (
            f'{self.__class__.__name__}(max_num_pasted={self.max_num_pasted}'
            f', bbox_occluded_thr={self.bbox_occluded_thr}, '
            f'mask_occluded_thr={self.mask_occluded_thr}, '
            f'selected={self.selected})'
        )
