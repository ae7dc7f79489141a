"""AutoAugment for detection (Zoph et al. 2019) and its level-driven
operations, with MMDetection 2.x's names, arguments and random draws.

A ``level`` in ``[0, 10]`` maps linearly to a magnitude:
``level / 10 * max`` for geometric operations and ``level / 10 * 1.8 +
0.1`` (an enhancement factor) for the colour ones. Each operation runs
with probability ``prob``; geometric ones negate their magnitude with
probability ``random_negative_prob``.
"""

import copy

import cv2
import mmcv
import numpy as np

from mmdet.utils.arg_errors import (
    InvalidArgumentError,
    InvalidArgumentTypeError,
)
from ..registry import PIPELINES
from .compose import Compose
from .crop import BBOX2MASK, keep_partners

_MAX_LEVEL = 10


def level_to_value(level, max_value):
    return level / _MAX_LEVEL * max_value


def enhance_level_to_value(level, a=1.8, b=0.1):
    return level / _MAX_LEVEL * a + b


def random_negative(value, random_negative_prob):
    return -value if np.random.rand() < random_negative_prob else value


def _check_level_prob(level, prob):
    if not isinstance(level, (int, float)):
        raise InvalidArgumentTypeError(f'level must be a number, got {level}')
    if not 0 <= level <= _MAX_LEVEL:
        raise InvalidArgumentError(f'level must be in [0, 10], got {level}')
    if not 0 <= prob <= 1:
        raise InvalidArgumentError(f'prob must be in [0, 1], got {prob}')


def _fill_triple(img_fill_val):
    """``img_fill_val`` as three floats in [0, 255]."""
    if isinstance(img_fill_val, (int, float)):
        img_fill_val = (img_fill_val,) * 3
    if not (isinstance(img_fill_val, tuple) and len(img_fill_val) == 3):
        raise InvalidArgumentError(
            'img_fill_val must be a number or a 3-tuple'
        )
    if not all(0 <= v <= 255 for v in img_fill_val):
        raise InvalidArgumentError('img_fill_val must lie in [0, 255]')
    return tuple(float(v) for v in img_fill_val)


def _check_direction(direction):
    if direction not in ('horizontal', 'vertical'):
        raise InvalidArgumentError(
            f"direction must be 'horizontal' or 'vertical', got {direction}"
        )


def warp_box_corners(bboxes, matrix, height, width):
    """Bounds of the four corners of (n, 4) boxes under a (2, 3) affine
    ``matrix`` (computed in the matrix's dtype), clipped to the image so
    that ``x1 <= x2``, ``y1 <= y2``."""
    x1, y1, x2, y2 = (bboxes[:, i] for i in range(4))
    xs = np.stack([x1, x2, x1, x2], 1).astype(matrix.dtype)
    ys = np.stack([y1, y1, y2, y2], 1).astype(matrix.dtype)
    new_x = matrix[0, 0] * xs + matrix[0, 1] * ys + matrix[0, 2]
    new_y = matrix[1, 0] * xs + matrix[1, 1] * ys + matrix[1, 2]
    min_x = np.clip(new_x.min(1), 0, width)
    min_y = np.clip(new_y.min(1), 0, height)
    max_x = np.clip(new_x.max(1), min_x, width)
    max_y = np.clip(new_y.max(1), min_y, height)
    return np.stack([min_x, min_y, max_x, max_y], -1).astype(bboxes.dtype)


def drop_small_boxes(results, min_size=0):
    """Drop boxes not wider and taller than ``min_size`` with partners."""
    for key in results.get('bbox_fields', []):
        boxes = results[key]
        keep = np.nonzero(
            (boxes[:, 2] - boxes[:, 0] > min_size)
            & (boxes[:, 3] - boxes[:, 1] > min_size)
        )[0]
        results[key] = boxes[keep]
        keep_partners(results, key, keep)
        mask_key = BBOX2MASK.get(key)
        if mask_key in results:
            results[mask_key] = results[mask_key][keep]


@PIPELINES.register_module()
class AutoAugment:
    """Apply one policy (a list of transform configs) drawn at random.

    Args:
        policies (list[list[dict]]): the candidate policies.
    """

    def __init__(self, policies):
        if not (isinstance(policies, list) and policies):
            raise InvalidArgumentError('policies must be a non-empty list')
        for policy in policies:
            if not (isinstance(policy, list) and policy):
                raise InvalidArgumentError(
                    'each policy must be a non-empty list'
                )
            if not all(isinstance(t, dict) and 'type' in t for t in policy):
                raise InvalidArgumentError(
                    'each augmentation must be a dict with a "type"'
                )
        self.policies = copy.deepcopy(policies)
        self.transforms = [Compose(policy) for policy in self.policies]

    def __call__(self, results):
        index = np.random.choice(len(self.transforms))
        return self.transforms[index](results)

    def __repr__(self):
        return f'{self.__class__.__name__}(policies={self.policies})'


class _GeometricOp:
    """Shared flow: draw, warp image / boxes / masks / seg maps, filter."""

    def _warp_image(self, img, magnitude, fill):
        raise NotImplementedError

    def _box_matrix(self, magnitude, results):
        raise NotImplementedError

    def _warp_masks(self, masks, magnitude, out_shape):
        raise NotImplementedError

    def _apply(self, results, magnitude, min_size=0):
        for key in results.get('img_fields', ['img']):
            img = results[key]
            warped = self._warp_image(img, magnitude, self.img_fill_val)
            results[key] = warped.astype(img.dtype)
            results['img_shape'] = results[key].shape
        h, w = results['img_shape'][:2]
        self._warp_boxes(results, magnitude, h, w)
        for key in results.get('mask_fields', []):
            results[key] = self._warp_masks(results[key], magnitude, (h, w))
        for key in results.get('seg_fields', []):
            seg = results[key]
            warped = self._warp_image(seg, magnitude, self.seg_ignore_label)
            results[key] = warped.astype(seg.dtype)
        drop_small_boxes(results, min_size)
        return results

    def _warp_boxes(self, results, magnitude, h, w):
        matrix = self._box_matrix(magnitude, results)
        for key in results.get('bbox_fields', []):
            results[key] = warp_box_corners(results[key], matrix, h, w)


@PIPELINES.register_module()
class Shear(_GeometricOp):
    """Shear by ``level / 10 * max_shear_magnitude`` (about the origin,
    as ``mmcv.imshear``): x += m * y ('horizontal') or y += m * x."""

    def __init__(
        self,
        level,
        img_fill_val=128,
        seg_ignore_label=255,
        prob=0.5,
        direction='horizontal',
        max_shear_magnitude=0.3,
        random_negative_prob=0.5,
        interpolation='bilinear',
    ):
        _check_level_prob(level, prob)
        _check_direction(direction)
        if not (
            isinstance(max_shear_magnitude, float)
            and 0 <= max_shear_magnitude <= 1
        ):
            raise InvalidArgumentError(
                'max_shear_magnitude must be a float in [0, 1]'
            )
        self.level = level
        self.magnitude = level_to_value(level, max_shear_magnitude)
        self.img_fill_val = _fill_triple(img_fill_val)
        self.seg_ignore_label = seg_ignore_label
        self.prob = prob
        self.direction = direction
        self.max_shear_magnitude = max_shear_magnitude
        self.random_negative_prob = random_negative_prob
        self.interpolation = interpolation

    def _warp_image(self, img, magnitude, fill):
        return mmcv.imshear(
            img,
            magnitude,
            self.direction,
            border_value=fill,
            interpolation=self.interpolation,
        )

    def _box_matrix(self, magnitude, results):
        if self.direction == 'horizontal':
            rows = [[1, magnitude, 0], [0, 1, 0]]
        else:
            rows = [[1, 0, 0], [magnitude, 1, 0]]
        return np.array(rows, dtype=np.float32)

    def _warp_masks(self, masks, magnitude, out_shape):
        return masks.shear(
            out_shape,
            magnitude,
            self.direction,
            border_value=0,
            interpolation=self.interpolation,
        )

    def __call__(self, results):
        if np.random.rand() > self.prob:
            return results
        magnitude = random_negative(self.magnitude, self.random_negative_prob)
        return self._apply(results, magnitude)

    def __repr__(self):
        return (
            f'{self.__class__.__name__}(level={self.level}, '
            f'img_fill_val={self.img_fill_val}, '
            f'seg_ignore_label={self.seg_ignore_label}, prob={self.prob}, '
            f'direction={self.direction}, '
            f'max_shear_magnitude={self.max_shear_magnitude}, '
            f'random_negative_prob={self.random_negative_prob}, '
            f'interpolation={self.interpolation})'
        )


@PIPELINES.register_module()
class Rotate(_GeometricOp):
    """Rotate by ``level / 10 * max_rotate_angle`` degrees (clockwise for
    a positive angle, as ``mmcv.imrotate``) about ``center`` (default the
    image centre) with ``scale``."""

    def __init__(
        self,
        level,
        scale=1,
        center=None,
        img_fill_val=128,
        seg_ignore_label=255,
        prob=0.5,
        max_rotate_angle=30,
        random_negative_prob=0.5,
    ):
        _check_level_prob(level, prob)
        if not isinstance(scale, (int, float)):
            raise InvalidArgumentTypeError('scale must be a number')
        if isinstance(center, (int, float)):
            center = (center, center)
        elif center is not None and not (
            isinstance(center, tuple) and len(center) == 2
        ):
            raise InvalidArgumentError('center must be None, a number or 2')
        if not isinstance(max_rotate_angle, (int, float)):
            raise InvalidArgumentTypeError('max_rotate_angle: a number')
        self.level = level
        self.scale = scale
        self.angle = level_to_value(level, max_rotate_angle)
        self.center = center
        self.img_fill_val = _fill_triple(img_fill_val)
        self.seg_ignore_label = seg_ignore_label
        self.prob = prob
        self.max_rotate_angle = max_rotate_angle
        self.random_negative_prob = random_negative_prob

    def _warp_image(self, img, angle, fill):
        return mmcv.imrotate(
            img.copy(), angle, self._center, self.scale, border_value=fill
        )

    def _box_matrix(self, angle, results):
        return cv2.getRotationMatrix2D(self._center, -angle, self.scale)

    def _warp_masks(self, masks, angle, out_shape):
        return masks.rotate(out_shape, angle, self._center, self.scale, 0)

    def __call__(self, results):
        if np.random.rand() > self.prob:
            return results
        h, w = results['img'].shape[:2]
        self._center = self.center or ((w - 1) * 0.5, (h - 1) * 0.5)
        angle = random_negative(self.angle, self.random_negative_prob)
        return self._apply(results, angle)

    def __repr__(self):
        return (
            f'{self.__class__.__name__}(level={self.level}, '
            f'scale={self.scale}, center={self.center}, '
            f'img_fill_val={self.img_fill_val}, '
            f'seg_ignore_label={self.seg_ignore_label}, prob={self.prob}, '
            f'max_rotate_angle={self.max_rotate_angle}, '
            f'random_negative_prob={self.random_negative_prob})'
        )


@PIPELINES.register_module()
class Translate(_GeometricOp):
    """Shift by ``int(level / 10 * max_translate_offset)`` pixels; boxes
    not wider and taller than ``min_size`` afterwards are dropped."""

    def __init__(
        self,
        level,
        prob=0.5,
        img_fill_val=128,
        seg_ignore_label=255,
        direction='horizontal',
        max_translate_offset=250.0,
        random_negative_prob=0.5,
        min_size=0,
    ):
        _check_level_prob(level, prob)
        _check_direction(direction)
        if not isinstance(max_translate_offset, (int, float)):
            raise InvalidArgumentTypeError('max_translate_offset: a number')
        self.offset = int(level_to_value(level, max_translate_offset))
        self.level = level
        self.prob = prob
        self.img_fill_val = _fill_triple(img_fill_val)
        self.seg_ignore_label = seg_ignore_label
        self.direction = direction
        self.max_translate_offset = max_translate_offset
        self.random_negative_prob = random_negative_prob
        self.min_size = min_size

    def _warp_image(self, img, offset, fill):
        return mmcv.imtranslate(img.copy(), offset, self.direction, fill)

    def _warp_boxes(self, results, offset, h, w):
        axis, limit = (0, w) if self.direction == 'horizontal' else (1, h)
        for key in results.get('bbox_fields', []):
            boxes = results[key].copy()
            boxes[:, axis] = np.maximum(0, boxes[:, axis] + offset)
            boxes[:, axis + 2] = np.minimum(limit, boxes[:, axis + 2] + offset)
            results[key] = boxes

    def _warp_masks(self, masks, offset, out_shape):
        return masks.translate(out_shape, offset, self.direction, 0)

    def __call__(self, results):
        if np.random.rand() > self.prob:
            return results
        offset = random_negative(self.offset, self.random_negative_prob)
        return self._apply(results, offset, self.min_size)

    def __repr__(self):
        return (
            f'{self.__class__.__name__}(level={self.level}, '
            f'prob={self.prob}, img_fill_val={self.img_fill_val}, '
            f'direction={self.direction}, '
            f'max_translate_offset={self.max_translate_offset}, '
            f'min_size={self.min_size})'
        )


class _EnhanceOp:
    """Colour operation ``mmcv.<func>(img, factor)`` with probability."""

    func = None

    def __init__(self, level, prob=0.5):
        _check_level_prob(level, prob)
        self.level = level
        self.prob = prob
        self.factor = enhance_level_to_value(level)

    def _enhance(self, img):
        return getattr(mmcv, self.func)(img, self.factor)

    def __call__(self, results):
        if np.random.rand() > self.prob:
            return results
        for key in results.get('img_fields', ['img']):
            img = results[key]
            results[key] = self._enhance(img).astype(img.dtype)
        return results

    def __repr__(self):
        return (
            f'{self.__class__.__name__}(level={self.level}, prob={self.prob})'
        )


@PIPELINES.register_module()
class ColorTransform(_EnhanceOp):
    """Blend with the greyscale image (``mmcv.adjust_color``)."""

    func = 'adjust_color'


@PIPELINES.register_module()
class BrightnessTransform(_EnhanceOp):
    """Scale brightness (``mmcv.adjust_brightness``)."""

    func = 'adjust_brightness'


@PIPELINES.register_module()
class ContrastTransform(_EnhanceOp):
    """Blend with the mean grey level (``mmcv.adjust_contrast``)."""

    func = 'adjust_contrast'


@PIPELINES.register_module()
class EqualizeTransform(_EnhanceOp):
    """Histogram-equalise each channel (``mmcv.imequalize``)."""

    def __init__(self, prob=0.5):
        super().__init__(0, prob)

    def _enhance(self, img):
        return mmcv.imequalize(img)

    def __repr__(self):
        return f'{self.__class__.__name__}(prob={self.prob})'
