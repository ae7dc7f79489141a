"""Registry of prior (anchor / point) generators and its build functions."""

import warnings

from mmcv.utils import Registry

from mmdet.utils.registry import build_from_cfg

PRIOR_GENERATORS = Registry(
    'Generator for anchors and points', build_func=build_from_cfg
)

# the name used before MMDetection 2.18; both name one registry
ANCHOR_GENERATORS = PRIOR_GENERATORS


def build_prior_generator(cfg, default_args=None):
    """Build a prior generator (e.g. ``AnchorGenerator``) from a config."""
    return build_from_cfg(cfg, PRIOR_GENERATORS, default_args)


def build_anchor_generator(cfg, default_args=None):
    """Deprecated name of :func:`build_prior_generator`."""
    warnings.warn(
        '``build_anchor_generator`` is deprecated, '
        'please use ``build_prior_generator`` instead'
    )
    return build_prior_generator(cfg, default_args=default_args)
