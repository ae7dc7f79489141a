"""CornerNet / CenterNet's random centre crop with padding (MMDetection
2.x's ``RandomCenterCropPad``; boxes only)."""

import numpy as np

from mmdet.utils.arg_errors import (
    InvalidArgumentError,
    InvalidArgumentTypeError,
)
from ..registry import PIPELINES
from .crop import centers_inside, clip_boxes


def _border_for(border, size):
    """The largest ``border / 2**k`` that keeps ``2 * border < size``."""
    k = 2 * border / size
    i = pow(2, np.ceil(np.log2(np.ceil(k))) + (k == int(k)))
    return int(border // i)


@PIPELINES.register_module()
class RandomCenterCropPad:
    """Crop a ``crop_size * ratio`` window around a random centre (kept
    ``border`` pixels from the edges, shrunk for small images) and paste
    it onto a canvas filled with ``mean``; boxes whose centre leaves the
    window are dropped. In ``test_mode`` the whole image is centred on a
    canvas padded by ``test_pad_mode``: ``('logical_or', 127)`` gives
    ``(h | 127) + test_pad_add_pix``, ``('size_divisor', d)`` rounds up;
    ``results['border']`` then holds the image's ``[y1, y2, x1, x2]`` on
    the canvas. Needs a float32 image.
    """

    def __init__(
        self,
        crop_size=None,
        ratios=(0.9, 1.0, 1.1),
        border=128,
        mean=None,
        std=None,
        to_rgb=None,
        test_mode=False,
        test_pad_mode=('logical_or', 127),
        test_pad_add_pix=0,
        bbox_clip_border=True,
    ):
        if test_mode:
            if crop_size is not None or ratios is not None or border:
                raise InvalidArgumentError(
                    'test_mode needs crop_size, ratios and border None'
                )
            if not isinstance(test_pad_mode, (list, tuple)) or (
                test_pad_mode[0] not in ('logical_or', 'size_divisor')
            ):
                raise InvalidArgumentError(
                    f'bad test_pad_mode {test_pad_mode}'
                )
        else:
            if not isinstance(crop_size, (list, tuple)) or min(crop_size) <= 0:
                raise InvalidArgumentError('train mode needs crop_size > 0')
            if not isinstance(ratios, (list, tuple)):
                raise InvalidArgumentTypeError('ratios must be a sequence')
            if test_pad_mode is not None:
                raise InvalidArgumentError(
                    'train mode needs test_pad_mode None'
                )
        if mean is None or std is None or to_rgb is None:
            raise InvalidArgumentError('mean, std and to_rgb are required')
        self.crop_size = crop_size
        self.ratios = ratios
        self.border = border
        self.to_rgb = to_rgb
        self.input_mean = mean
        self.input_std = std
        self.mean = mean[::-1] if to_rgb else mean
        self.std = std[::-1] if to_rgb else std
        self.test_mode = test_mode
        self.test_pad_mode = test_pad_mode
        self.test_pad_add_pix = test_pad_add_pix
        self.bbox_clip_border = bbox_clip_border

    def _crop_image_and_paste(self, image, center, size):
        """Paste the part of ``image`` within ``size // 2`` of ``center =
        (y, x)`` centred on a ``size = (h, w)`` mean-filled canvas.

        Returns the canvas, the pasted region ``[y1, y2, x1, x2]`` on it
        (float32) and the source window ``[x0, y0, x1, y1]`` (int).
        """
        cy, cx = center
        th, tw = size
        img_h, img_w, channels = image.shape
        x0, x1 = max(0, cx - tw // 2), min(cx + tw // 2, img_w)
        y0, y1 = max(0, cy - th // 2), min(cy + th // 2, img_h)
        canvas = np.zeros((th, tw, channels), dtype=image.dtype)
        canvas += np.asarray(self.mean, dtype=image.dtype)
        top, left = th // 2 - (cy - y0), tw // 2 - (cx - x0)
        bottom, right = th // 2 + (y1 - cy), tw // 2 + (x1 - cx)
        canvas[top:bottom, left:right] = image[y0:y1, x0:x1]
        border = np.array([top, bottom, left, right], dtype=np.float32)
        return canvas, border, np.array((x0, y0, x1, y1))

    def _move_boxes(self, results, patch, center, new_hw):
        new_h, new_w = new_hw
        for key in results.get('bbox_fields', []):
            inside = centers_inside(results[key], patch)
            bboxes = results[key][inside]
            bboxes[:, 0:4:2] += new_w // 2 - center[1]
            bboxes[:, 1:4:2] += new_h // 2 - center[0]
            if self.bbox_clip_border:
                clip_boxes(bboxes, new_h, new_w)
            keep = (bboxes[:, 2] > bboxes[:, 0]) & (
                bboxes[:, 3] > bboxes[:, 1]
            )
            results[key] = bboxes[keep]
            if key == 'gt_bboxes':
                if 'gt_labels' in results:
                    results['gt_labels'] = results['gt_labels'][inside][keep]
                if 'gt_masks' in results:
                    raise NotImplementedError(
                        'RandomCenterCropPad only supports boxes'
                    )

    def _train_aug(self, results):
        img = results['img']
        h, w = img.shape[:2]
        boxes = results['gt_bboxes']
        while True:
            scale = np.random.choice(self.ratios)
            new_h = int(self.crop_size[0] * scale)
            new_w = int(self.crop_size[1] * scale)
            h_border = _border_for(self.border, h)
            w_border = _border_for(self.border, w)
            for _ in range(50):
                cx = np.random.randint(low=w_border, high=w - w_border)
                cy = np.random.randint(low=h_border, high=h - h_border)
                canvas, _, patch = self._crop_image_and_paste(
                    img, (cy, cx), (new_h, new_w)
                )
                if len(boxes) > 0 and not centers_inside(boxes, patch).any():
                    continue
                results['img'] = canvas
                results['img_shape'] = canvas.shape
                results['pad_shape'] = canvas.shape
                self._move_boxes(results, patch, (cy, cx), (new_h, new_w))
                if results.get('seg_fields'):
                    raise NotImplementedError(
                        'RandomCenterCropPad only supports boxes'
                    )
                return results

    def _test_aug(self, results):
        img = results['img']
        h, w = img.shape[:2]
        results['img_shape'] = img.shape
        mode, value = self.test_pad_mode
        if mode == 'logical_or':
            target_h = (h | value) + self.test_pad_add_pix
            target_w = (w | value) + self.test_pad_add_pix
        else:
            target_h = int(np.ceil(h / value)) * value
            target_w = int(np.ceil(w / value)) * value
        canvas, border, _ = self._crop_image_and_paste(
            img, (h // 2, w // 2), (target_h, target_w)
        )
        results['img'] = canvas
        results['pad_shape'] = canvas.shape
        results['border'] = border
        return results

    def __call__(self, results):
        img = results['img']
        if img.dtype != np.float32:
            raise InvalidArgumentTypeError(
                'RandomCenterCropPad needs a float32 image: set '
                'to_float32=True in LoadImageFromFile'
            )
        if img.shape[2] != len(self.mean):
            raise InvalidArgumentError('mean needs one value per channel')
        if self.test_mode:
            return self._test_aug(results)
        return self._train_aug(results)

    def __repr__(self):
        return (
            f'{self.__class__.__name__}(crop_size={self.crop_size}, '
            f'ratios={self.ratios}, border={self.border}, '
            f'mean={self.input_mean}, std={self.input_std}, '
            f'to_rgb={self.to_rgb}, test_mode={self.test_mode}, '
            f'test_pad_mode={self.test_pad_mode}, '
            f'bbox_clip_border={self.bbox_clip_border})'
        )
