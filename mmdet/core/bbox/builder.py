"""Registries of box assigners, samplers and coders, with build functions.

``default_args`` are passed as keyword arguments, as MMDetection does:
``build_sampler(cfg, context=head)``.
"""

from mmcv.utils import Registry

from mmdet.utils.registry import build_from_cfg

BBOX_ASSIGNERS = Registry('bbox_assigner', build_func=build_from_cfg)
BBOX_SAMPLERS = Registry('bbox_sampler', build_func=build_from_cfg)
BBOX_CODERS = Registry('bbox_coder', build_func=build_from_cfg)


def build_assigner(cfg, **default_args):
    """Build an assigner (e.g. ``MaxIoUAssigner``) from a config."""
    return build_from_cfg(cfg, BBOX_ASSIGNERS, default_args)


def build_sampler(cfg, **default_args):
    """Build a sampler (e.g. ``RandomSampler``) from a config."""
    return build_from_cfg(cfg, BBOX_SAMPLERS, default_args)


def build_bbox_coder(cfg, **default_args):
    """Build a box coder (e.g. ``DeltaXYWHBBoxCoder``) from a config."""
    return build_from_cfg(cfg, BBOX_CODERS, default_args)
