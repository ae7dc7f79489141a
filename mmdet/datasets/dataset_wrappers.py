"""Data set wrappers: concatenation, repetition, class-balanced repeats,
multi-image mixing (Mosaic / MixUp)."""

import bisect
import collections.abc
import copy
import math
from collections import defaultdict

import numpy as np
from mmcv.utils import print_log
from torch.utils.data.dataset import ConcatDataset as _ConcatDataset

from mmdet.utils import build_from_cfg
from mmdet.utils.arg_errors import InvalidArgumentError
from .registry import DATASETS, PIPELINES


@DATASETS.register_module()
class ConcatDataset(_ConcatDataset):
    """Data sets one after the other (torch's ConcatDataset), with the
    first one's ``CLASSES`` / ``PALETTE``, a joined ``flag``, and
    evaluation of each part on its own share of the results.

    Args:
        datasets (list[Dataset]): data sets with the same classes.
        separate_eval (bool): evaluate each part separately (metric keys
            prefixed ``'<index>_'``); otherwise as one data set, which
            needs parts of one type, not COCO-style (refused when built).
    """

    def __init__(self, datasets, separate_eval=True):
        super().__init__(datasets)
        self.CLASSES = datasets[0].CLASSES
        self.PALETTE = getattr(datasets[0], 'PALETTE', None)
        self.separate_eval = separate_eval
        if not separate_eval:
            self._check_joint_evaluation()
        if all(hasattr(d, 'flag') for d in datasets):
            self.flag = np.concatenate([d.flag for d in datasets])

    def _locate(self, idx):
        if idx < 0:
            if -idx > len(self):
                raise IndexError('index out of range')
            idx += len(self)
        part = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[part - 1] if part else 0
        return part, idx - start

    def get_cat_ids(self, idx):
        part, local = self._locate(idx)
        return self.datasets[part].get_cat_ids(local)

    def get_ann_info(self, idx):
        part, local = self._locate(idx)
        return self.datasets[part].get_ann_info(local)

    def evaluate(self, results, logger=None, **kwargs):
        if len(results) != self.cumulative_sizes[-1]:
            raise InvalidArgumentError(
                f'{len(results)} results for '
                f'{self.cumulative_sizes[-1]} images'
            )
        if not self.separate_eval:
            self._check_joint_evaluation()
            return self._evaluate_joined(results, logger, **kwargs)
        metrics = {}
        start = 0
        for i, (dataset, end) in enumerate(
            zip(self.datasets, self.cumulative_sizes)
        ):
            print_log(
                f'\nEvaluating {getattr(dataset, "ann_file", type(dataset))} '
                f'with {end - start} images now',
                logger=logger,
            )
            part = dataset.evaluate(
                results[start:end], logger=logger, **kwargs
            )
            metrics.update({f'{i}_{k}': v for k, v in part.items()})
            start = end
        return metrics

    def _check_joint_evaluation(self):
        """Parts evaluated as one must be of one type and not COCO-style
        (their COCO API objects cannot be joined)."""
        if any(hasattr(d, 'coco') for d in self.datasets):
            raise NotImplementedError(
                'COCO-style data sets cannot be evaluated together; use '
                'separate_eval=True'
            )
        if len({type(d) for d in self.datasets}) != 1:
            raise NotImplementedError(
                'data sets evaluated together must be of one type, got '
                f'{sorted({type(d).__name__ for d in self.datasets})}; use '
                'separate_eval=True'
            )

    def _evaluate_joined(self, results, logger, **kwargs):
        """The first part's ``evaluate`` over the annotations of all parts
        (its ``data_infos`` joined for the call, then restored)."""
        first = self.datasets[0]
        own = first.data_infos
        first.data_infos = [i for d in self.datasets for i in d.data_infos]
        try:
            return first.evaluate(results, logger=logger, **kwargs)
        finally:
            first.data_infos = own


@DATASETS.register_module()
class RepeatDataset:
    """``dataset`` repeated ``times`` times (one long epoch, fewer loader
    restarts for small data sets)."""

    def __init__(self, dataset, times):
        self.dataset = dataset
        self.times = times
        self.CLASSES = dataset.CLASSES
        self.PALETTE = getattr(dataset, 'PALETTE', None)
        self._ori_len = len(dataset)
        if hasattr(dataset, 'flag'):
            self.flag = np.tile(dataset.flag, times)

    def __getitem__(self, idx):
        return self.dataset[idx % self._ori_len]

    def get_cat_ids(self, idx):
        return self.dataset.get_cat_ids(idx % self._ori_len)

    def get_ann_info(self, idx):
        return self.dataset.get_ann_info(idx % self._ori_len)

    def __len__(self):
        return self.times * self._ori_len


@DATASETS.register_module()
class ClassBalancedDataset:
    """Repeat images that hold rare classes (LVIS's repeat factor sampling).

    A class seen in a fraction ``f`` of the images gets the factor
    ``max(1, sqrt(oversample_thr / f))``; an image repeats
    ``ceil(max factor of its classes)`` times.

    Args:
        dataset: a data set with ``get_cat_ids``.
        oversample_thr (float): classes rarer than this are oversampled.
        filter_empty_gt (bool): images without objects are not repeated (and
            kept once only when False).
    """

    def __init__(self, dataset, oversample_thr, filter_empty_gt=True):
        self.dataset = dataset
        self.oversample_thr = oversample_thr
        self.filter_empty_gt = filter_empty_gt
        self.CLASSES = dataset.CLASSES
        self.PALETTE = getattr(dataset, 'PALETTE', None)
        factors = self._get_repeat_factors(dataset, oversample_thr)
        self.repeat_indices = [
            i for i, f in enumerate(factors) for _ in range(int(math.ceil(f)))
        ]
        # as MMDetection: the repeated groups of a data set that has them
        # (training), else an empty flag
        flag = getattr(dataset, 'flag', None)
        self.flag = np.asarray(
            [] if flag is None else np.asarray(flag)[self.repeat_indices],
            dtype=np.uint8,
        )

    def _get_repeat_factors(self, dataset, repeat_thr):
        cat_sets = [set(dataset.get_cat_ids(i)) for i in range(len(dataset))]
        freq = defaultdict(int)
        for cats in cat_sets:
            if not cats and not self.filter_empty_gt:
                cats = {len(self.CLASSES)}
            for c in cats:
                freq[c] += 1
        num_images = len(dataset)
        cat_factor = {
            c: max(1.0, math.sqrt(repeat_thr / (n / num_images)))
            for c, n in freq.items()
        }
        factors = []
        for cats in cat_sets:
            if not cats and not self.filter_empty_gt:
                cats = {len(self.CLASSES)}
            factors.append(max((cat_factor[c] for c in cats), default=1.0))
        return factors

    def __getitem__(self, idx):
        return self.dataset[self.repeat_indices[idx]]

    def get_ann_info(self, idx):
        return self.dataset.get_ann_info(self.repeat_indices[idx])

    def __len__(self):
        return len(self.repeat_indices)


def _check_type_keys(skip_type_keys):
    if skip_type_keys is not None and not all(
        isinstance(k, str) for k in skip_type_keys
    ):
        raise InvalidArgumentError(
            f'skip_type_keys must be transform type names, got '
            f'{skip_type_keys}'
        )


@DATASETS.register_module()
class MultiImageMixDataset:
    """Runs a second pipeline over ``dataset``'s samples in which mixing
    transforms (those with ``get_indexes``, e.g. Mosaic, MixUp) receive
    extra samples of the data set as ``results['mix_results']``.

    Args:
        dataset: the wrapped data set (its own pipeline loads the images).
        pipeline (Sequence[dict]): transform configs.
        dynamic_scale: removed in MMDetection 2.x; anything but None is an
            error (use a Resize transform).
        skip_type_keys (Sequence[str] | None): transform types to skip
            (changed in training by ``update_skip_type_keys``, e.g. by
            YOLOX's mode-switch hook).
        max_refetch (int): tries to draw mix samples / to get a non-None
            transform output before giving up.
    """

    def __init__(
        self,
        dataset,
        pipeline,
        dynamic_scale=None,
        skip_type_keys=None,
        max_refetch=15,
    ):
        if dynamic_scale is not None:
            raise RuntimeError(
                'dynamic_scale is deprecated. Please use Resize pipeline to '
                'achieve similar functions'
            )
        if not isinstance(pipeline, collections.abc.Sequence):
            raise InvalidArgumentError('pipeline must be a list of dicts')
        _check_type_keys(skip_type_keys)
        self._skip_type_keys = skip_type_keys
        self.pipeline, self.pipeline_types = [], []
        for transform in pipeline:
            if not isinstance(transform, dict):
                raise TypeError('pipeline must be a dict')
            self.pipeline_types.append(transform['type'])
            self.pipeline.append(build_from_cfg(transform, PIPELINES))
        self.dataset = dataset
        self.CLASSES = dataset.CLASSES
        self.PALETTE = getattr(dataset, 'PALETTE', None)
        if hasattr(dataset, 'flag'):
            self.flag = dataset.flag
        self.num_samples = len(dataset)
        self.max_refetch = max_refetch

    def __len__(self):
        return self.num_samples

    def _mix_results(self, transform):
        """Copies of the samples ``transform.get_indexes`` picks, drawn
        again while any of them is None."""
        for _ in range(self.max_refetch):
            indexes = transform.get_indexes(self.dataset)
            if not isinstance(indexes, collections.abc.Sequence):
                indexes = [indexes]
            samples = [copy.deepcopy(self.dataset[i]) for i in indexes]
            if None not in samples:
                return samples
        raise RuntimeError(
            'The loading pipeline of the original dataset always return '
            'None. Please check the correctness of the dataset and its '
            'pipeline.'
        )

    def _apply(self, transform, results):
        for _ in range(self.max_refetch):
            updated = transform(copy.deepcopy(results))
            if updated is not None:
                return updated
        raise RuntimeError(
            'The training pipeline of the dataset wrapper always return '
            'None. Please check the correctness of the dataset and its '
            'pipeline.'
        )

    def __getitem__(self, idx):
        results = copy.deepcopy(self.dataset[idx])
        for transform, kind in zip(self.pipeline, self.pipeline_types):
            if self._skip_type_keys is not None and (
                kind in self._skip_type_keys
            ):
                continue
            if hasattr(transform, 'get_indexes'):
                results['mix_results'] = self._mix_results(transform)
            results = self._apply(transform, results)
            results.pop('mix_results', None)
        return results

    def update_skip_type_keys(self, skip_type_keys):
        """Skip the transforms of these types from now on."""
        _check_type_keys(skip_type_keys)
        self._skip_type_keys = skip_type_keys
