"""Registry of the pairwise match costs used by one-to-one assigners."""

from mmcv.utils import Registry

from mmdet.utils.registry import build_from_cfg

MATCH_COST = Registry('Match Cost', build_func=build_from_cfg)


def build_match_cost(cfg, default_args=None):
    """Build a match cost (e.g. ``FocalLossCost``) from a config."""
    return build_from_cfg(cfg, MATCH_COST, default_args)
