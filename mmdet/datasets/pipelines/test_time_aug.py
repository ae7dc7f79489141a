"""Test-time augmentation: one sample per (scale, flip) combination."""

import warnings

from mmdet.utils.arg_errors import (
    InvalidArgumentError,
    InvalidArgumentTypeError,
)
from ..registry import PIPELINES
from .compose import Compose
from .transforms import as_scale_list


@PIPELINES.register_module()
class MultiScaleFlipAug:
    """Run ``transforms`` once per scale and flip setting; return lists.

    For each scale of ``img_scale`` (or factor of ``scale_factor``) and each
    flip setting (no flip, then one per ``flip_direction`` when ``flip``),
    ``results['scale']`` (or ``scale_factor``), ``flip`` and
    ``flip_direction`` are set and ``transforms`` run on a copy; the output
    is a dict of lists, one entry per combination.

    Args:
        transforms (list[dict]): the per-augmentation pipeline (with
            ``Resize`` and ``RandomFlip`` to obey the settings).
        img_scale (tuple | list[tuple] | None): scales as Resize takes
            them (``(long, short)`` with keep_ratio).
        scale_factor (float | list[float] | None): instead of img_scale.
        flip (bool): add flipped versions.
        flip_direction (str | list[str]): directions of the flipped versions.
    """

    def __init__(
        self,
        transforms,
        img_scale=None,
        scale_factor=None,
        flip=False,
        flip_direction='horizontal',
    ):
        self.transforms = Compose(transforms)
        if (img_scale is None) == (scale_factor is None):
            raise InvalidArgumentError(
                'MultiScaleFlipAug needs exactly one of '
                'img_scale and scale_factor'
            )
        if img_scale is not None:
            self.img_scale = as_scale_list(img_scale)
            self.scale_key = 'scale'
        else:
            self.img_scale = (
                scale_factor
                if isinstance(scale_factor, list)
                else [scale_factor]
            )
            self.scale_key = 'scale_factor'
        self.flip = flip
        self.flip_direction = (
            flip_direction
            if isinstance(flip_direction, list)
            else [flip_direction]
        )
        if not all(isinstance(d, str) for d in self.flip_direction):
            raise InvalidArgumentTypeError(
                'flip_direction must be a direction name or a list of '
                "them ('horizontal', 'vertical', 'diagonal'), got "
                f'{flip_direction!r}'
            )
        has_flip = any(
            type(t).__name__ == 'RandomFlip'
            for t in self.transforms.transforms
        )
        if self.flip and not has_flip:
            warnings.warn(
                'flip=True has no effect without a RandomFlip in transforms'
            )

    def __call__(self, results):
        flip_settings = [(False, None)]
        if self.flip:
            flip_settings += [(True, d) for d in self.flip_direction]
        outputs = []
        for scale in self.img_scale:
            for flip, direction in flip_settings:
                aug = results.copy()
                aug[self.scale_key] = scale
                aug['flip'] = flip
                aug['flip_direction'] = direction
                outputs.append(self.transforms(aug))
        return {key: [out[key] for out in outputs] for key in outputs[0]}

    def __repr__(self):
        return (
            f'{self.__class__.__name__}(transforms={self.transforms}, '
            f'img_scale={self.img_scale}, flip={self.flip}, '
            f'flip_direction={self.flip_direction})'
        )
