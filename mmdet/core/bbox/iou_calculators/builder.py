"""Registry of IoU calculators and its build function."""

from mmcv.utils import Registry

from mmdet.utils.registry import build_from_cfg

IOU_CALCULATORS = Registry('IoU calculator', build_func=build_from_cfg)


def build_iou_calculator(cfg, default_args=None):
    """Build an IoU calculator (e.g. ``BboxOverlaps2D``) from a config."""
    return build_from_cfg(cfg, IOU_CALCULATORS, default_args)
