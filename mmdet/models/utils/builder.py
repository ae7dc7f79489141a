"""MMDetection's ``TRANSFORMER`` registry (the ``transformer=`` of DETR
heads, Sparse R-CNN's ``DynamicConv``) and its build function."""

from mmcv.utils import Registry, build_from_cfg

TRANSFORMER = Registry('Transformer')


def build_transformer(cfg, default_args=None):
    """Build a module registered in ``TRANSFORMER`` from its config."""
    return build_from_cfg(cfg, TRANSFORMER, default_args)
