"""The data set and pipeline registries (``builder`` re-exports them).

Apart from ``builder`` so that the modules registering into them (data sets,
wrappers, transforms) never import the builder that imports them back.
"""

from mmcv.utils import Registry

from mmdet.utils import build_from_cfg

DATASETS = Registry('dataset', build_func=build_from_cfg)
PIPELINES = Registry('pipeline', build_func=build_from_cfg)
