"""Cropping, expanding and shifting transforms (MMDetection 2.x's names,
arguments and order of random draws, so a seeded run gives the same crop).

Boxes are ``[x1, y1, x2, y2]`` pixel-edge coordinates. ``gt_bboxes`` pairs
with ``gt_labels`` / ``gt_masks``, ``gt_bboxes_ignore`` with
``gt_labels_ignore`` / ``gt_masks_ignore``: dropping a box drops its
partners.
"""

import mmcv
import numpy as np

from mmdet.core.evaluation.bbox_overlaps import bbox_overlaps
from mmdet.utils.arg_errors import InvalidArgumentError
from ..registry import PIPELINES

BBOX2LABEL = {'gt_bboxes': 'gt_labels', 'gt_bboxes_ignore': 'gt_labels_ignore'}
BBOX2MASK = {'gt_bboxes': 'gt_masks', 'gt_bboxes_ignore': 'gt_masks_ignore'}


def _single_img(results):
    if results.get('img_fields', ['img']) != ['img']:
        raise InvalidArgumentError('only one image field (img) is supported')
    return results['img']


def keep_partners(results, key, keep):
    """Index the labels paired with box field ``key`` by ``keep``."""
    label_key = BBOX2LABEL.get(key)
    if label_key in results:
        results[label_key] = results[label_key][keep]


def clip_boxes(bboxes, height, width):
    """Clip (n, 4) boxes in place to ``[0, width] x [0, height]``."""
    bboxes[:, 0::2] = np.clip(bboxes[:, 0::2], 0, width)
    bboxes[:, 1::2] = np.clip(bboxes[:, 1::2], 0, height)
    return bboxes


@PIPELINES.register_module()
class RandomCrop:
    """Crop a random window of the image, its boxes, masks and seg maps.

    ``crop_type`` turns ``crop_size = (h, w)`` into pixels:

    - 'absolute': ``(min(h, H), min(w, W))`` for an ``H x W`` image;
    - 'absolute_range': each side uniform in ``[h, min(size, w)]``;
    - 'relative': ``(H * h, W * w)`` rounded;
    - 'relative_range': ratios uniform in ``[h, 1]`` and ``[w, 1]``.

    Boxes whose clipped area vanishes are dropped with their labels and
    masks; with ``recompute_bbox`` boxes are recomputed from the cropped
    masks. Returns None when no ``gt_bboxes`` survive unless
    ``allow_negative_crop``.
    """

    CROP_TYPES = ('relative_range', 'relative', 'absolute', 'absolute_range')

    def __init__(
        self,
        crop_size,
        crop_type='absolute',
        allow_negative_crop=False,
        recompute_bbox=False,
        bbox_clip_border=True,
    ):
        if crop_type not in self.CROP_TYPES:
            raise InvalidArgumentError(f'Invalid crop_type {crop_type}.')
        if crop_type.startswith('absolute'):
            ok = all(isinstance(s, int) and s > 0 for s in crop_size[:2])
        else:
            ok = all(0 < s <= 1 for s in crop_size[:2])
        if not ok:
            raise InvalidArgumentError(
                f'crop_size {crop_size} does not suit crop_type {crop_type}'
            )
        if crop_type == 'absolute_range' and crop_size[0] > crop_size[1]:
            raise InvalidArgumentError('absolute_range needs min <= max')
        self.crop_size = crop_size
        self.crop_type = crop_type
        self.allow_negative_crop = allow_negative_crop
        self.recompute_bbox = recompute_bbox
        self.bbox_clip_border = bbox_clip_border

    def _get_crop_size(self, image_size):
        """The crop ``(h, w)`` in pixels for an image of ``image_size``."""
        h, w = image_size
        lo, hi = self.crop_size[0], self.crop_size[1]
        if self.crop_type == 'absolute':
            return min(lo, h), min(hi, w)
        if self.crop_type == 'absolute_range':
            crop_h = np.random.randint(min(h, lo), min(h, hi) + 1)
            crop_w = np.random.randint(min(w, lo), min(w, hi) + 1)
            return crop_h, crop_w
        ratio = np.asarray(self.crop_size, dtype=np.float32)
        if self.crop_type == 'relative_range':
            ratio = ratio + np.random.rand(2) * (1 - ratio)
        return int(h * ratio[0] + 0.5), int(w * ratio[1] + 0.5)

    def _crop_boxes(self, results, offset, crop_box, allow_negative):
        """Shift/clip every box field; False if gt_bboxes end up empty."""
        img_shape = results['img_shape']
        for key in results.get('bbox_fields', []):
            shift = np.array(offset * 2, dtype=np.float32)
            bboxes = results[key] - shift
            if self.bbox_clip_border:
                clip_boxes(bboxes, img_shape[0], img_shape[1])
            valid = (bboxes[:, 2] > bboxes[:, 0]) & (
                bboxes[:, 3] > bboxes[:, 1]
            )
            if key == 'gt_bboxes' and not (valid.any() or allow_negative):
                return False
            results[key] = bboxes[valid]
            keep_partners(results, key, valid)
            mask_key = BBOX2MASK.get(key)
            if mask_key in results:
                masks = results[mask_key][valid.nonzero()[0]]
                results[mask_key] = masks.crop(np.asarray(crop_box))
                if self.recompute_bbox:
                    results[key] = results[mask_key].get_bboxes()
        return True

    def _crop_data(self, results, crop_size, allow_negative_crop):
        """Crop at a random offset to ``crop_size = (h, w)`` pixels."""
        img_h, img_w = results['img'].shape[:2]
        offset_h = np.random.randint(0, max(img_h - crop_size[0], 0) + 1)
        offset_w = np.random.randint(0, max(img_w - crop_size[1], 0) + 1)
        y1, x1 = offset_h, offset_w
        y2, x2 = y1 + crop_size[0], x1 + crop_size[1]
        for key in results.get('img_fields', ['img']):
            results[key] = results[key][y1:y2, x1:x2, ...]
        results['img_shape'] = results['img'].shape
        crop_box = [x1, y1, x2, y2]
        offset = [offset_w, offset_h]
        if not self._crop_boxes(
            results, offset, crop_box, allow_negative_crop
        ):
            return None
        for key in results.get('seg_fields', []):
            results[key] = results[key][y1:y2, x1:x2]
        return results

    def __call__(self, results):
        crop_size = self._get_crop_size(results['img'].shape[:2])
        return self._crop_data(results, crop_size, self.allow_negative_crop)

    def __repr__(self):
        return (
            f'{self.__class__.__name__}(crop_size={self.crop_size}, '
            f'crop_type={self.crop_type}, '
            f'allow_negative_crop={self.allow_negative_crop}, '
            f'bbox_clip_border={self.bbox_clip_border})'
        )


@PIPELINES.register_module()
class SegRescale:
    """Rescale the maps in ``seg_fields`` by ``scale_factor`` (nearest)."""

    def __init__(self, scale_factor=1, backend='cv2'):
        self.scale_factor = scale_factor
        self.backend = backend

    def __call__(self, results):
        if self.scale_factor == 1:
            return results
        for key in results.get('seg_fields', []):
            results[key] = mmcv.imrescale(
                results[key],
                self.scale_factor,
                interpolation='nearest',
                backend=self.backend,
            )
        return results

    def __repr__(self):
        return f'{self.__class__.__name__}(scale_factor={self.scale_factor})'


@PIPELINES.register_module()
class Expand:
    """With probability ``prob``, place the image at a random spot of a
    canvas ``ratio`` times larger (ratio uniform in ``ratio_range``) filled
    with ``mean`` (given RGB when ``to_rgb``; seg maps get
    ``seg_ignore_label``)."""

    def __init__(
        self,
        mean=(0, 0, 0),
        to_rgb=True,
        ratio_range=(1, 4),
        seg_ignore_label=None,
        prob=0.5,
    ):
        self.to_rgb = to_rgb
        self.ratio_range = ratio_range
        self.mean = mean[::-1] if to_rgb else mean
        self.min_ratio, self.max_ratio = ratio_range
        self.seg_ignore_label = seg_ignore_label
        self.prob = prob

    def __call__(self, results):
        if np.random.uniform(0, 1) > self.prob:
            return results
        img = _single_img(results)
        h, w, c = img.shape
        ratio = np.random.uniform(self.min_ratio, self.max_ratio)
        new_h, new_w = int(h * ratio), int(w * ratio)
        left = int(np.random.uniform(0, w * ratio - w))
        top = int(np.random.uniform(0, h * ratio - h))
        canvas = np.empty((new_h, new_w, c), img.dtype)
        canvas[...] = np.asarray(self.mean, dtype=img.dtype)
        canvas[top : top + h, left : left + w] = img
        results['img'] = canvas
        for key in results.get('bbox_fields', []):
            shift = np.array([left, top, left, top], results[key].dtype)
            results[key] = results[key] + shift
        for key in results.get('mask_fields', []):
            results[key] = results[key].expand(new_h, new_w, top, left)
        for key in results.get('seg_fields', []):
            seg = results[key]
            grown = np.full((new_h, new_w), self.seg_ignore_label, seg.dtype)
            grown[top : top + h, left : left + w] = seg
            results[key] = grown
        return results

    def __repr__(self):
        return (
            f'{self.__class__.__name__}(mean={self.mean}, '
            f'to_rgb={self.to_rgb}, ratio_range={self.ratio_range}, '
            f'seg_ignore_label={self.seg_ignore_label})'
        )


def centers_inside(boxes, patch):
    """(n,) bool: box centres strictly inside ``patch = [x1, y1, x2, y2]``."""
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    cy = (boxes[:, 1] + boxes[:, 3]) / 2
    return (
        (cx > patch[0]) & (cy > patch[1]) & (cx < patch[2]) & (cy < patch[3])
    )


@PIPELINES.register_module()
class MinIoURandomCrop:
    """SSD's crop: draw a mode from ``(1, *min_ious, 0)`` (1 = no crop),
    then up to 50 windows (sides at least ``min_crop_size`` of the image,
    aspect in [0.5, 2]) until one has IoU >= mode with every box and holds
    some box centre; boxes with centres outside it are dropped."""

    def __init__(
        self,
        min_ious=(0.1, 0.3, 0.5, 0.7, 0.9),
        min_crop_size=0.3,
        bbox_clip_border=True,
    ):
        self.min_ious = min_ious
        self.sample_mode = (1, *min_ious, 0)
        self.min_crop_size = min_crop_size
        self.bbox_clip_border = bbox_clip_border

    def _draw_patch(self, h, w):
        """One candidate window (int array) or None when it is rejected."""
        new_w = np.random.uniform(self.min_crop_size * w, w)
        new_h = np.random.uniform(self.min_crop_size * h, h)
        if not 0.5 <= new_h / new_w <= 2:
            return None
        left = np.random.uniform(w - new_w)
        top = np.random.uniform(h - new_h)
        patch = np.array(
            (int(left), int(top), int(left + new_w), int(top + new_h))
        )
        if patch[2] == patch[0] or patch[3] == patch[1]:
            return None
        return patch

    def _accepts(self, patch, boxes, min_iou):
        if len(boxes) == 0:
            return True
        overlaps = bbox_overlaps(patch.reshape(-1, 4), boxes.reshape(-1, 4))
        if overlaps.min() < min_iou:
            return False
        return centers_inside(boxes, patch).any()

    def _apply(self, results, patch):
        for key in results.get('bbox_fields', []):
            boxes = results[key].copy()
            keep = centers_inside(boxes, patch)
            boxes = boxes[keep]
            if self.bbox_clip_border:
                boxes[:, 2:] = boxes[:, 2:].clip(max=patch[2:])
                boxes[:, :2] = boxes[:, :2].clip(min=patch[:2])
            results[key] = boxes - np.tile(patch[:2], 2)
            keep_partners(results, key, keep)
            mask_key = BBOX2MASK.get(key)
            if mask_key in results:
                masks = results[mask_key][keep.nonzero()[0]]
                results[mask_key] = masks.crop(patch)
        x1, y1, x2, y2 = patch
        results['img'] = results['img'][y1:y2, x1:x2]
        results['img_shape'] = results['img'].shape
        for key in results.get('seg_fields', []):
            results[key] = results[key][y1:y2, x1:x2]
        return results

    def __call__(self, results):
        img = _single_img(results)
        if 'bbox_fields' not in results:
            raise InvalidArgumentError('MinIoURandomCrop needs bbox_fields')
        boxes = np.concatenate([results[k] for k in results['bbox_fields']])
        h, w = img.shape[:2]
        while True:
            mode = np.random.choice(self.sample_mode)
            self.mode = mode
            if mode == 1:
                return results
            for _ in range(50):
                patch = self._draw_patch(h, w)
                if patch is not None and self._accepts(patch, boxes, mode):
                    return self._apply(results, patch)

    def __repr__(self):
        return (
            f'{self.__class__.__name__}(min_ious={self.min_ious}, '
            f'min_crop_size={self.min_crop_size}, '
            f'bbox_clip_border={self.bbox_clip_border})'
        )


def _shift_slices(delta, size):
    """Destination and source slices moving ``size`` pixels by delta."""
    dst = slice(max(delta, 0), size + min(delta, 0))
    src = slice(max(-delta, 0), size - max(delta, 0))
    return dst, src


def shift_image(img, dx, dy):
    """``img`` moved by ``(dx, dy)`` pixels; uncovered pixels are 0."""
    h, w = img.shape[:2]
    (dst_y, src_y), (dst_x, src_x) = _shift_slices(dy, h), _shift_slices(dx, w)
    out = np.zeros_like(img)
    out[dst_y, dst_x] = img[src_y, src_x]
    return out


@PIPELINES.register_module()
class RandomShift:
    """With probability ``shift_ratio`` shift the image by up to
    ``max_shift_px`` pixels in x and y (zero fill); boxes thinner than
    ``filter_thr_px`` after clipping are dropped. When no gt box would
    survive, the sample is left unchanged."""

    def __init__(self, shift_ratio=0.5, max_shift_px=32, filter_thr_px=1):
        if not 0 <= shift_ratio <= 1 or max_shift_px < 0:
            raise InvalidArgumentError(
                'RandomShift needs 0 <= shift_ratio <= 1, max_shift_px >= 0'
            )
        self.shift_ratio = shift_ratio
        self.max_shift_px = max_shift_px
        self.filter_thr_px = int(filter_thr_px)

    def _shift_boxes(self, results, dx, dy):
        h, w = results['img'].shape[:2]
        shifted = {}
        for key in results.get('bbox_fields', []):
            bboxes = results[key].copy()
            bboxes[..., 0::2] += dx
            bboxes[..., 1::2] += dy
            clip_boxes(bboxes, h, w)
            bw = bboxes[..., 2] - bboxes[..., 0]
            bh = bboxes[..., 3] - bboxes[..., 1]
            valid = (bw > self.filter_thr_px) & (bh > self.filter_thr_px)
            if key == 'gt_bboxes' and not valid.any():
                return None
            shifted[key] = (bboxes[valid], valid)
        return shifted

    def __call__(self, results):
        if np.random.random() >= self.shift_ratio:
            return results
        m = self.max_shift_px
        dx = np.random.randint(-m, m)
        dy = np.random.randint(-m, m)
        shifted = self._shift_boxes(results, dx, dy)
        if shifted is None:
            return results
        for key, (bboxes, valid) in shifted.items():
            results[key] = bboxes
            keep_partners(results, key, valid)
        for key in results.get('img_fields', ['img']):
            results[key] = shift_image(results[key], dx, dy)
        return results

    def __repr__(self):
        return f'{self.__class__.__name__}(max_shift_px={self.max_shift_px})'


@PIPELINES.register_module()
class CutOut:
    """Fill ``n_holes`` (an int or a ``(lo, hi)`` range) random rectangles
    with ``fill_in``; each hole's ``(w, h)`` is one of ``cutout_shape``
    (pixels) or ``cutout_ratio`` (of the image), chosen at random."""

    def __init__(
        self, n_holes, cutout_shape=None, cutout_ratio=None, fill_in=(0, 0, 0)
    ):
        if (cutout_shape is None) == (cutout_ratio is None):
            raise InvalidArgumentError(
                'CutOut needs exactly one of cutout_shape and cutout_ratio'
            )
        if isinstance(n_holes, tuple):
            if not (len(n_holes) == 2 and 0 <= n_holes[0] < n_holes[1]):
                raise InvalidArgumentError(f'bad n_holes range {n_holes}')
        else:
            n_holes = (n_holes, n_holes)
        self.n_holes = n_holes
        self.fill_in = fill_in
        self.with_ratio = cutout_ratio is not None
        candidates = cutout_ratio if self.with_ratio else cutout_shape
        self.candidates = (
            candidates if isinstance(candidates, list) else [candidates]
        )

    def __call__(self, results):
        h, w = results['img'].shape[:2]
        n_holes = np.random.randint(self.n_holes[0], self.n_holes[1] + 1)
        for _ in range(n_holes):
            x1 = np.random.randint(0, w)
            y1 = np.random.randint(0, h)
            cand = self.candidates[np.random.randint(0, len(self.candidates))]
            if self.with_ratio:
                cut_w, cut_h = int(cand[0] * w), int(cand[1] * h)
            else:
                cut_w, cut_h = cand
            x2 = np.clip(x1 + cut_w, 0, w)
            y2 = np.clip(y1 + cut_h, 0, h)
            results['img'][y1:y2, x1:x2, :] = self.fill_in
        return results

    def __repr__(self):
        kind = 'cutout_ratio' if self.with_ratio else 'cutout_shape'
        return (
            f'{self.__class__.__name__}(n_holes={self.n_holes}, '
            f'{kind}={self.candidates}, fill_in={self.fill_in})'
        )
