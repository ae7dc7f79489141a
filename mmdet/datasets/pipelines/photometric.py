"""Colour transforms (MMDetection 2.x's names, arguments and order of
random draws)."""

import cv2
import mmcv
import numpy as np

from mmdet.utils.arg_errors import InvalidArgumentError
from ..registry import PIPELINES


@PIPELINES.register_module()
class PhotoMetricDistortion:
    """SSD's colour jitter on a float32 copy of the image; each step runs
    with probability 1/2, in this order: brightness (+delta), contrast
    (*alpha, here or at the end, chosen at random), saturation (*s, in HSV),
    hue (+delta degrees, wrapped to [0, 360]), contrast, channel swap."""

    def __init__(
        self,
        brightness_delta=32,
        contrast_range=(0.5, 1.5),
        saturation_range=(0.5, 1.5),
        hue_delta=18,
    ):
        self.brightness_delta = brightness_delta
        self.contrast_lower, self.contrast_upper = contrast_range
        self.saturation_lower, self.saturation_upper = saturation_range
        self.hue_delta = hue_delta

    def _contrast(self, img):
        if np.random.randint(2):
            img *= np.random.uniform(self.contrast_lower, self.contrast_upper)
        return img

    def _hsv_jitter(self, img):
        img = mmcv.bgr2hsv(img)
        if np.random.randint(2):
            img[..., 1] *= np.random.uniform(
                self.saturation_lower, self.saturation_upper
            )
        if np.random.randint(2):
            hue = img[..., 0]
            hue += np.random.uniform(-self.hue_delta, self.hue_delta)
            hue[hue > 360] -= 360
            hue[hue < 0] += 360
        return mmcv.hsv2bgr(img)

    def __call__(self, results):
        if results.get('img_fields', ['img']) != ['img']:
            raise InvalidArgumentError('only one image field is supported')
        img = results['img'].astype(np.float32)
        if np.random.randint(2):
            d = self.brightness_delta
            img += np.random.uniform(-d, d)
        contrast_first = np.random.randint(2) == 1
        if contrast_first:
            img = self._contrast(img)
        img = self._hsv_jitter(img)
        if not contrast_first:
            img = self._contrast(img)
        if np.random.randint(2):
            img = img[..., np.random.permutation(3)]
        results['img'] = img
        return results

    def __repr__(self):
        return (
            f'{self.__class__.__name__}('
            f'brightness_delta={self.brightness_delta}, '
            f'contrast_range={(self.contrast_lower, self.contrast_upper)}, '
            'saturation_range='
            f'{(self.saturation_lower, self.saturation_upper)}, '
            f'hue_delta={self.hue_delta})'
        )


@PIPELINES.register_module()
class YOLOXHSVRandomAug:
    """YOLOX's HSV jitter on a uint8 BGR image: each of hue (OpenCV's
    0..179 scale, wrapped), saturation and value gets, with probability
    1/2, an integer offset within +-its delta."""

    def __init__(self, hue_delta=5, saturation_delta=30, value_delta=30):
        self.hue_delta = hue_delta
        self.saturation_delta = saturation_delta
        self.value_delta = value_delta

    def __call__(self, results):
        img = results['img']
        deltas = [self.hue_delta, self.saturation_delta, self.value_delta]
        gains = np.random.uniform(-1, 1, 3) * deltas
        gains = (gains * np.random.randint(0, 2, 3)).astype(np.int16)
        hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV).astype(np.int16)
        hsv[..., 0] = (hsv[..., 0] + gains[0]) % 180
        hsv[..., 1:] = np.clip(hsv[..., 1:] + gains[1:], 0, 255)
        results['img'] = cv2.cvtColor(hsv.astype(img.dtype), cv2.COLOR_HSV2BGR)
        return results

    def __repr__(self):
        return (
            f'{self.__class__.__name__}(hue_delta={self.hue_delta}, '
            f'saturation_delta={self.saturation_delta}, '
            f'value_delta={self.value_delta})'
        )
