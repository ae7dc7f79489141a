"""Geometric and photometric transforms (MMDetection 2.x's names and
arguments).

Every geometric step moves all registered targets with the image: boxes in
``results['bbox_fields']`` (``[x1, y1, x2, y2]`` pixel-edge coordinates),
masks in ``mask_fields`` (BitmapMasks / PolygonMasks) and segmentation maps
in ``seg_fields``.
"""

import warnings

import mmcv
import numpy as np

from mmdet.utils.arg_errors import (
    InvalidArgumentError,
    InvalidArgumentTypeError,
)
from ..registry import PIPELINES


def as_scale_list(img_scale):
    """``img_scale`` as a list of ``(a, b)`` tuples (None stays None).

    Accepts one scale (a tuple) or a list of scales (tuples, or two-number
    lists as JSON writes them). A list of numbers such as ``[1333, 800]`` is
    refused, as MMDetection refuses it: it reads as two one-number scales.
    """
    if img_scale is None:
        return None
    if isinstance(img_scale, tuple):
        img_scale = [img_scale]
    if isinstance(img_scale, list) and any(
        isinstance(v, (int, float)) for v in img_scale
    ):
        raise InvalidArgumentTypeError(
            f'img_scale={img_scale!r} is a list of numbers; write one scale '
            f'as a tuple ({", ".join(map(str, img_scale))}) or scales as a '
            'list of tuples'
        )
    scales = [
        tuple(s) if isinstance(s, (tuple, list)) else s
        for s in (img_scale if isinstance(img_scale, list) else [img_scale])
    ]
    for scale in scales:
        if not (isinstance(scale, tuple) and len(scale) == 2):
            raise InvalidArgumentTypeError(
                'img_scale must be a tuple (long, short) or a '
                f'list of them, got {img_scale!r}'
            )
    return scales


@PIPELINES.register_module()
class Resize:
    """Resize the image and its boxes, masks and segmentation maps.

    The target scale comes from, in order: ``results['scale']`` (set by
    ``MultiScaleFlipAug``), ``results['scale_factor']`` (a factor of the
    input size), or ``img_scale``:

    - one scale: that scale;
    - ``ratio_range=(lo, hi)``: the one scale times a random ratio;
    - a list with ``multiscale_mode='range'``: random long edge and short
      edge, each between the list's extremes;
    - a list with ``multiscale_mode='value'``: one of the listed scales.

    With ``keep_ratio`` the image is scaled by ``min(long / long_side,
    short / short_side)`` to ``int(x * s + 0.5)`` pixels (mmcv.imrescale);
    otherwise it is resized to exactly ``scale = (w, h)``.

    Adds ``img_shape``, ``pad_shape``, ``scale_factor`` (float32
    ``[w_new / w, h_new / h, w_new / w, h_new / h]``) and ``keep_ratio``.

    Args:
        img_scale (tuple | list[tuple] | None): ``(long, short)`` scales.
        multiscale_mode (str): 'range' or 'value'.
        ratio_range (tuple[float] | None): with one ``img_scale``.
        keep_ratio (bool): keep the aspect ratio.
        bbox_clip_border (bool): clip boxes to the resized image.
        backend (str): 'cv2' or 'pillow'.
        interpolation (str): for the image (masks use nearest).
        override (bool): recompute the scale even if ``scale`` is set.
    """

    def __init__(
        self,
        img_scale=None,
        multiscale_mode='range',
        ratio_range=None,
        keep_ratio=True,
        bbox_clip_border=True,
        backend='cv2',
        interpolation='bilinear',
        override=False,
    ):
        self.img_scale = as_scale_list(img_scale)
        if ratio_range is not None:
            if self.img_scale is None or len(self.img_scale) != 1:
                raise InvalidArgumentError(
                    'ratio_range needs exactly one img_scale'
                )
        elif multiscale_mode not in ('value', 'range'):
            raise InvalidArgumentError(
                "multiscale_mode must be 'range' or 'value', "
                f'got {multiscale_mode!r}'
            )
        self.multiscale_mode = multiscale_mode
        self.ratio_range = ratio_range
        self.keep_ratio = keep_ratio
        self.bbox_clip_border = bbox_clip_border
        self.backend = backend
        self.interpolation = interpolation
        self.override = override

    @staticmethod
    def random_select(img_scales):
        """One of ``img_scales`` at random: ``(scale, index)``."""
        idx = np.random.randint(len(img_scales))
        return img_scales[idx], idx

    @staticmethod
    def random_sample(img_scales):
        """A random ``(long, short)`` between the extremes of two scales."""
        longs = [max(s) for s in img_scales]
        shorts = [min(s) for s in img_scales]
        long_edge = np.random.randint(min(longs), max(longs) + 1)
        short_edge = np.random.randint(min(shorts), max(shorts) + 1)
        return (long_edge, short_edge), None

    @staticmethod
    def random_sample_ratio(img_scale, ratio_range):
        """``img_scale`` times a ratio drawn uniformly from ratio_range."""
        lo, hi = ratio_range
        ratio = np.random.random_sample() * (hi - lo) + lo
        return (int(img_scale[0] * ratio), int(img_scale[1] * ratio)), None

    def _random_scale(self, results):
        if self.ratio_range is not None:
            scale, idx = self.random_sample_ratio(
                self.img_scale[0], self.ratio_range
            )
        elif len(self.img_scale) == 1:
            scale, idx = self.img_scale[0], 0
        elif self.multiscale_mode == 'range':
            scale, idx = self.random_sample(self.img_scale)
        else:
            scale, idx = self.random_select(self.img_scale)
        results['scale'] = scale
        results['scale_idx'] = idx

    def _choose_scale(self, results):
        if 'scale' in results and not self.override:
            if 'scale_factor' in results:
                raise InvalidArgumentError(
                    'results hold both scale and scale_factor'
                )
            return
        if self.override:
            results.pop('scale', None)
            results.pop('scale_factor', None)
        if 'scale_factor' in results:
            h, w = results['img'].shape[:2]
            factor = results.pop('scale_factor')
            if not np.isscalar(factor):
                raise InvalidArgumentTypeError(
                    'scale_factor in results must be one number'
                )
            results['scale'] = (int(w * factor), int(h * factor))
            return
        if self.img_scale is None:
            raise InvalidArgumentError(
                'Resize needs img_scale, or a scale set by an '
                'earlier step (MultiScaleFlipAug)'
            )
        self._random_scale(results)

    def _resize_img(self, results):
        for key in results.get('img_fields', ['img']):
            img = results[key]
            h, w = img.shape[:2]
            if self.keep_ratio:
                resized = mmcv.imrescale(
                    img,
                    results['scale'],
                    interpolation=self.interpolation,
                    backend=self.backend,
                )
            else:
                resized = mmcv.imresize(
                    img,
                    results['scale'],
                    interpolation=self.interpolation,
                    backend=self.backend,
                )
            new_h, new_w = resized.shape[:2]
            w_scale, h_scale = new_w / w, new_h / h
            results[key] = resized
            results['scale_factor'] = np.array(
                [w_scale, h_scale, w_scale, h_scale], dtype=np.float32
            )
            results['img_shape'] = resized.shape
            results['pad_shape'] = resized.shape
            results['keep_ratio'] = self.keep_ratio

    def _resize_bboxes(self, results):
        h, w = results['img_shape'][:2]
        for key in results.get('bbox_fields', []):
            bboxes = results[key] * results['scale_factor']
            if self.bbox_clip_border:
                bboxes[:, 0::2] = np.clip(bboxes[:, 0::2], 0, w)
                bboxes[:, 1::2] = np.clip(bboxes[:, 1::2], 0, h)
            results[key] = bboxes.astype(np.float32)

    def _resize_masks(self, results):
        for key in results.get('mask_fields', []):
            if results[key] is None:
                continue
            if self.keep_ratio:
                results[key] = results[key].rescale(results['scale'])
            else:
                results[key] = results[key].resize(results['img_shape'][:2])

    def _resize_seg(self, results):
        for key in results.get('seg_fields', []):
            if self.keep_ratio:
                seg = mmcv.imrescale(
                    results[key],
                    results['scale'],
                    interpolation='nearest',
                    backend=self.backend,
                )
            else:
                seg = mmcv.imresize(
                    results[key],
                    results['scale'],
                    interpolation='nearest',
                    backend=self.backend,
                )
            results[key] = seg

    def __call__(self, results):
        self._choose_scale(results)
        self._resize_img(results)
        self._resize_bboxes(results)
        self._resize_masks(results)
        self._resize_seg(results)
        return results

    def __repr__(self):
        return (
            f'{self.__class__.__name__}(img_scale={self.img_scale}, '
            f'multiscale_mode={self.multiscale_mode}, '
            f'ratio_range={self.ratio_range}, '
            f'keep_ratio={self.keep_ratio}, '
            f'bbox_clip_border={self.bbox_clip_border})'
        )


def bbox_flip(bboxes, img_shape, direction):
    """Flip (..., 4k) boxes inside an image of ``img_shape`` (h, w, ...).

    'horizontal': x -> w - x; 'vertical': y -> h - y; 'diagonal': both
    (pixel-edge coordinates, so a flip is exact and self-inverse).
    """
    if bboxes.shape[-1] % 4 != 0:
        raise InvalidArgumentError(
            f'boxes of shape {bboxes.shape} are not (..., 4k)'
        )
    if direction not in ('horizontal', 'vertical', 'diagonal'):
        raise InvalidArgumentError(f'invalid flip direction {direction!r}')
    h, w = img_shape[:2]
    flipped = bboxes.copy()
    if direction in ('horizontal', 'diagonal'):
        flipped[..., 0::4] = w - bboxes[..., 2::4]
        flipped[..., 2::4] = w - bboxes[..., 0::4]
    if direction in ('vertical', 'diagonal'):
        flipped[..., 1::4] = h - bboxes[..., 3::4]
        flipped[..., 3::4] = h - bboxes[..., 1::4]
    return flipped


@PIPELINES.register_module()
class RandomFlip:
    """Flip the image and its targets at random.

    Args:
        flip_ratio (float | list[float] | None): probability of flipping;
            a list gives one probability per direction.
        direction (str | list[str]): 'horizontal', 'vertical', 'diagonal',
            or a list (with one ``flip_ratio`` the probability is shared
            equally among them).

    If ``results['flip']`` is already set (by ``MultiScaleFlipAug``) it is
    obeyed. Adds ``flip`` and ``flip_direction``.
    """

    DIRECTIONS = ('horizontal', 'vertical', 'diagonal')

    def __init__(self, flip_ratio=None, direction='horizontal'):
        directions = direction if isinstance(direction, list) else [direction]
        for d in directions:
            if d not in self.DIRECTIONS:
                raise InvalidArgumentError(
                    f'invalid flip direction {d!r}; choose '
                    f'from {self.DIRECTIONS}'
                )
        ratios = (
            flip_ratio
            if isinstance(flip_ratio, list)
            else ([] if flip_ratio is None else [flip_ratio])
        )
        if isinstance(flip_ratio, list) and len(flip_ratio) != len(directions):
            raise InvalidArgumentError(
                'a flip_ratio list needs one direction each'
            )
        if any(not 0 <= r <= 1 for r in ratios) or sum(ratios) > 1:
            raise InvalidArgumentError(f'invalid flip_ratio {flip_ratio!r}')
        self.flip_ratio = flip_ratio
        self.direction = direction

    def _choose_direction(self):
        """A direction or None (no flip), drawn with the configured odds."""
        if self.flip_ratio is None:
            return None
        directions = (
            self.direction
            if isinstance(self.direction, list)
            else [self.direction]
        )
        if isinstance(self.flip_ratio, list):
            probs = list(self.flip_ratio)
        else:
            probs = [self.flip_ratio / len(directions)] * len(directions)
        probs.append(max(0.0, 1.0 - sum(probs)))
        choice = np.random.choice(len(probs), p=np.array(probs) / sum(probs))
        return directions[choice] if choice < len(directions) else None

    def __call__(self, results):
        if 'flip' not in results:
            direction = self._choose_direction()
            results['flip'] = direction is not None
            results['flip_direction'] = direction
        elif 'flip_direction' not in results:
            results['flip_direction'] = (
                self.direction
                if isinstance(self.direction, str)
                else self.direction[0]
            )
        if not results['flip']:
            return results
        direction = results['flip_direction']
        for key in results.get('img_fields', ['img']):
            results[key] = mmcv.imflip(results[key], direction=direction)
        for key in results.get('bbox_fields', []):
            results[key] = bbox_flip(
                results[key], results['img_shape'], direction
            )
        for key in results.get('mask_fields', []):
            results[key] = results[key].flip(direction)
        for key in results.get('seg_fields', []):
            results[key] = mmcv.imflip(results[key], direction=direction)
        return results

    def __repr__(self):
        return f'{self.__class__.__name__}(flip_ratio={self.flip_ratio})'


@PIPELINES.register_module()
class Pad:
    """Zero-pad the image (and masks, segmentation) at the right/bottom.

    Exactly one of ``size`` (a fixed ``(h, w)``), ``size_divisor`` (round
    each side up to a multiple) or ``pad_to_square`` (pad to the longer
    side) is used. Adds ``pad_shape``, ``pad_fixed_size``,
    ``pad_size_divisor``.

    Args:
        pad_val (dict | float): ``dict(img=0, masks=0, seg=255)``; a number
            pads the image and masks with it.
    """

    def __init__(
        self,
        size=None,
        size_divisor=None,
        pad_to_square=False,
        pad_val=dict(img=0, masks=0, seg=255),
    ):
        if isinstance(pad_val, (int, float)):
            warnings.warn(
                'Pad(pad_val=number) is deprecated: use '
                'dict(img=..., masks=..., seg=...)'
            )
            pad_val = dict(img=pad_val, masks=pad_val, seg=255)
        if not isinstance(pad_val, dict):
            raise InvalidArgumentTypeError(
                f'pad_val must be a dict, got {pad_val!r}'
            )
        if pad_to_square:
            if size is not None or size_divisor is not None:
                raise InvalidArgumentError(
                    'pad_to_square excludes size and size_divisor'
                )
        elif (size is None) == (size_divisor is None):
            raise InvalidArgumentError(
                'Pad needs exactly one of size and size_divisor'
            )
        self.size = size
        self.size_divisor = size_divisor
        self.pad_to_square = pad_to_square
        self.pad_val = pad_val

    def _pad_img(self, results):
        for key in results.get('img_fields', ['img']):
            img = results[key]
            pad_val = self.pad_val.get('img', 0)
            if img.ndim == 3 and not isinstance(pad_val, (tuple, list)):
                # cv2 reads a lone number as (v, 0, 0): pad every channel
                pad_val = (pad_val,) * img.shape[2]
            pad_val = tuple(pad_val) if isinstance(pad_val, list) else pad_val
            if self.pad_to_square:
                side = max(img.shape[:2])
                padded = mmcv.impad(img, shape=(side, side), pad_val=pad_val)
            elif self.size is not None:
                padded = mmcv.impad(img, shape=self.size, pad_val=pad_val)
            else:
                padded = mmcv.impad_to_multiple(
                    img, self.size_divisor, pad_val=pad_val
                )
            results[key] = padded
        results['pad_shape'] = padded.shape
        results['pad_fixed_size'] = self.size
        results['pad_size_divisor'] = self.size_divisor

    def _pad_masks(self, results):
        shape = results['pad_shape'][:2]
        pad_val = self.pad_val.get('masks', 0)
        for key in results.get('mask_fields', []):
            results[key] = results[key].pad(shape, pad_val=pad_val)

    def _pad_seg(self, results):
        pad_val = self.pad_val.get('seg', 255)
        for key in results.get('seg_fields', []):
            results[key] = mmcv.impad(
                results[key], shape=results['pad_shape'][:2], pad_val=pad_val
            )

    def __call__(self, results):
        self._pad_img(results)
        self._pad_masks(results)
        self._pad_seg(results)
        return results

    def __repr__(self):
        return (
            f'{self.__class__.__name__}(size={self.size}, '
            f'size_divisor={self.size_divisor}, '
            f'pad_to_square={self.pad_to_square}, '
            f'pad_val={self.pad_val})'
        )


@PIPELINES.register_module()
class Normalize:
    """``(img - mean) / std`` per channel, after BGR -> RGB with ``to_rgb``.

    Adds ``img_norm_cfg = dict(mean, std, to_rgb)`` (float32 arrays), which
    the test loop needs to undo it for drawing.
    """

    def __init__(self, mean, std, to_rgb=True):
        self.mean = np.array(mean, dtype=np.float32)
        self.std = np.array(std, dtype=np.float32)
        self.to_rgb = to_rgb

    def __call__(self, results):
        for key in results.get('img_fields', ['img']):
            results[key] = mmcv.imnormalize(
                results[key], self.mean, self.std, self.to_rgb
            )
        results['img_norm_cfg'] = dict(
            mean=self.mean, std=self.std, to_rgb=self.to_rgb
        )
        return results

    def __repr__(self):
        return (
            f'{self.__class__.__name__}(mean={self.mean.tolist()}, '
            f'std={self.std.tolist()}, to_rgb={self.to_rgb})'
        )
