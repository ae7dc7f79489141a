"""Turning ``results`` into model inputs: tensors and DataContainers.

``DefaultFormatBundle`` + ``Collect`` is the usual end of a training
pipeline: the image becomes a (3, H, W) tensor wrapped in a stacking
DataContainer (padded to a common size at collate time), boxes and labels
tensors in per-image DataContainers, masks stay CPU-side objects, and the
image meta is a CPU-only DataContainer.
"""

from collections.abc import Sequence

import mmcv
import numpy as np
import torch
from mmcv.parallel import DataContainer as DC

from ..registry import PIPELINES


def to_tensor(data):
    """Tensor from a tensor, ndarray, sequence, int or float."""
    if isinstance(data, torch.Tensor):
        return data
    if isinstance(data, np.ndarray):
        return torch.from_numpy(data)
    if isinstance(data, Sequence) and not mmcv.is_str(data):
        return torch.tensor(data)
    if isinstance(data, int):
        return torch.LongTensor([data])
    if isinstance(data, float):
        return torch.FloatTensor([data])
    raise TypeError(f'type {type(data)} cannot be converted to a tensor')


def _image_to_chw(img):
    if img.ndim < 3:
        img = img[..., None]
    return np.ascontiguousarray(img.transpose(2, 0, 1))


@PIPELINES.register_module()
class ToTensor:
    """Convert ``results[key]`` to tensors for every key in ``keys``."""

    def __init__(self, keys):
        self.keys = keys

    def __call__(self, results):
        for key in self.keys:
            results[key] = to_tensor(results[key])
        return results

    def __repr__(self):
        return f'{self.__class__.__name__}(keys={self.keys})'


@PIPELINES.register_module()
class ImageToTensor:
    """(H, W, C) images -> contiguous (C, H, W) tensors (no DataContainer:
    for batch-1 test pipelines)."""

    def __init__(self, keys):
        self.keys = keys

    def __call__(self, results):
        for key in self.keys:
            results[key] = to_tensor(_image_to_chw(results[key])).contiguous()
        return results

    def __repr__(self):
        return f'{self.__class__.__name__}(keys={self.keys})'


@PIPELINES.register_module()
class Transpose:
    """Permute the axes of ``results[key]`` (arrays or tensors)."""

    def __init__(self, keys, order):
        self.keys = keys
        self.order = order

    def __call__(self, results):
        for key in self.keys:
            results[key] = results[key].transpose(self.order)
        return results

    def __repr__(self):
        return (
            f'{self.__class__.__name__}(keys={self.keys}, order={self.order})'
        )


@PIPELINES.register_module()
class ToDataContainer:
    """Wrap fields in DataContainers: ``fields`` is a sequence of dicts
    ``dict(key=..., **DataContainer kwargs)``."""

    def __init__(
        self,
        fields=(
            dict(key='img', stack=True),
            dict(key='gt_bboxes'),
            dict(key='gt_labels'),
        ),
    ):
        self.fields = fields

    def __call__(self, results):
        for field in self.fields:
            field = field.copy()
            key = field.pop('key')
            results[key] = DC(results[key], **field)
        return results

    def __repr__(self):
        return f'{self.__class__.__name__}(fields={self.fields})'


@PIPELINES.register_module()
class DefaultFormatBundle:
    """Format the common fields for the detector.

    - ``img``: (C, H, W) tensor (float32 when ``img_to_float``), stacked,
      padded with ``pad_val['img']``;
    - ``proposals``, ``gt_bboxes``, ``gt_bboxes_ignore``, ``gt_labels``:
      tensors, one per image;
    - ``gt_masks``: the mask object itself, CPU only, padded with
      ``pad_val['masks']``;
    - ``gt_semantic_seg``: (1, H, W) tensor, stacked, padded with
      ``pad_val['seg']``.

    Also fills ``pad_shape``, ``scale_factor`` and ``img_norm_cfg`` when an
    earlier step did not (no padding, resizing or normalization).
    """

    def __init__(
        self, img_to_float=True, pad_val=dict(img=0, masks=0, seg=255)
    ):
        self.img_to_float = img_to_float
        self.pad_val = pad_val

    @staticmethod
    def _add_default_meta_keys(results):
        img = results['img']
        results.setdefault('pad_shape', img.shape)
        results.setdefault('scale_factor', 1.0)
        channels = 1 if img.ndim < 3 else img.shape[2]
        results.setdefault(
            'img_norm_cfg',
            dict(
                mean=np.zeros(channels, dtype=np.float32),
                std=np.ones(channels, dtype=np.float32),
                to_rgb=False,
            ),
        )
        return results

    def __call__(self, results):
        if 'img' in results:
            img = results['img']
            if self.img_to_float and img.dtype == np.uint8:
                img = img.astype(np.float32)
            results = self._add_default_meta_keys(results)
            results['img'] = DC(
                to_tensor(_image_to_chw(img)),
                padding_value=self.pad_val['img'],
                stack=True,
            )
        for key in ('proposals', 'gt_bboxes', 'gt_bboxes_ignore', 'gt_labels'):
            if key in results:
                results[key] = DC(to_tensor(results[key]))
        if 'gt_masks' in results:
            results['gt_masks'] = DC(
                results['gt_masks'],
                padding_value=self.pad_val['masks'],
                cpu_only=True,
            )
        if 'gt_semantic_seg' in results:
            results['gt_semantic_seg'] = DC(
                to_tensor(results['gt_semantic_seg'][None, ...]),
                padding_value=self.pad_val['seg'],
                stack=True,
            )
        return results

    def __repr__(self):
        return f'{self.__class__.__name__}(img_to_float={self.img_to_float})'


@PIPELINES.register_module()
class Collect:
    """Keep ``keys`` and gather ``meta_keys`` into ``img_metas``.

    Returns ``dict(img_metas=DataContainer(meta, cpu_only=True), **{key:
    results[key] for key in keys})``.

    Args:
        keys (Sequence[str]): e.g. ``['img', 'gt_bboxes', 'gt_labels']``.
        meta_keys (Sequence[str]): image information the model needs:
            ``filename`` / ``ori_filename`` (path, name in the data set),
            ``ori_shape`` / ``img_shape`` / ``pad_shape`` ((h, w, c) before
            resizing, after resizing, after padding), ``scale_factor``
            (float32 ``[w_scale, h_scale, w_scale, h_scale]``), ``flip`` /
            ``flip_direction``, ``img_norm_cfg``.
    """

    def __init__(
        self,
        keys,
        meta_keys=(
            'filename',
            'ori_filename',
            'ori_shape',
            'img_shape',
            'pad_shape',
            'scale_factor',
            'flip',
            'flip_direction',
            'img_norm_cfg',
        ),
    ):
        self.keys = keys
        self.meta_keys = meta_keys

    def __call__(self, results):
        missing = [k for k in self.keys if k not in results]
        if missing:
            raise KeyError(
                f'Collect: {missing} not in the results (have '
                f'{sorted(results)}); check the pipeline'
            )
        img_meta = {
            key: results[key] for key in self.meta_keys if key in results
        }
        data = dict(img_metas=DC(img_meta, cpu_only=True))
        for key in self.keys:
            data[key] = results[key]
        return data

    def __repr__(self):
        return (
            f'{self.__class__.__name__}(keys={self.keys}, '
            f'meta_keys={self.meta_keys})'
        )


@PIPELINES.register_module()
class WrapFieldsToLists:
    """Put every value of ``results`` in a one-element list (the form test
    time augmentation gives), for single-image test pipelines."""

    def __call__(self, results):
        return {key: [value] for key, value in results.items()}

    def __repr__(self):
        return f'{self.__class__.__name__}()'
