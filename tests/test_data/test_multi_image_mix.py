"""MultiImageMixDataset: mix samples handed to transforms with
get_indexes, refetching, skip_type_keys and its update, and the build
path from a config dict."""

import numpy as np
import pytest

from mmdet.datasets import (
    DATASETS,
    PIPELINES,
    MultiImageMixDataset,
    build_dataset,
)


@DATASETS.register_module(force=True)
class _CountingSet:
    """Sample i is {'value': i}; samples listed in ``none_at`` are None."""

    CLASSES = ('a',)

    def __init__(self, num=5, none_at=()):
        self.num, self.none_at = num, set(none_at)
        self.flag = np.zeros(num, np.uint8)

    def __len__(self):
        return self.num

    def __getitem__(self, idx):
        return None if idx in self.none_at else {'value': idx}


@PIPELINES.register_module(force=True)
class _SumWithNext:
    """Adds the values of the two following samples (a mixing transform)."""

    def get_indexes(self, dataset):
        return [(self.last + 1) % len(dataset), (self.last + 2) % len(dataset)]

    def __call__(self, results):
        mixed = [r['value'] for r in results['mix_results']]
        results['mixed'] = mixed
        results['value'] += sum(mixed)
        return results


@PIPELINES.register_module(force=True)
class _Double:
    def __call__(self, results):
        results['value'] *= 2
        return results


def wrapper(**kwargs):
    mix = MultiImageMixDataset(
        _CountingSet(),
        [dict(type='_SumWithNext'), dict(type='_Double')],
        **kwargs,
    )
    mix.pipeline[0].last = 0
    return mix


def test_mixing_and_skipping():
    mix = wrapper()
    assert len(mix) == 5 and mix.CLASSES == ('a',)
    assert mix.flag is mix.dataset.flag
    out = mix[0]
    assert out['mixed'] == [1, 2] and 'mix_results' not in out
    assert out['value'] == 2 * (0 + 1 + 2)
    mix.update_skip_type_keys(['_SumWithNext'])
    assert mix[3] == {'value': 6}
    assert wrapper(skip_type_keys=('_Double',))[0]['value'] == 3


def test_refetch_and_errors():
    mix = wrapper(max_refetch=2)
    mix.dataset.none_at = {1, 2}
    with pytest.raises(RuntimeError, match='loading pipeline'):
        mix[0]
    with pytest.raises(RuntimeError, match='dynamic_scale is deprecated'):
        wrapper(dynamic_scale=(640, 640))
    with pytest.raises(TypeError):
        MultiImageMixDataset(_CountingSet(), [_Double()])
    with pytest.raises(ValueError):
        wrapper(skip_type_keys=[1])


def test_build_from_config():
    mix = build_dataset(
        dict(
            type='MultiImageMixDataset',
            dataset=dict(type='_CountingSet', num=3),
            pipeline=[dict(type='_Double')],
            skip_type_keys=None,
        )
    )
    assert isinstance(mix, MultiImageMixDataset)
    assert [mix[i]['value'] for i in range(3)] == [0, 2, 4]
