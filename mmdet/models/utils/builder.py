"""The linear-layer registry of MMDetection 2.x (mmcv has none): box heads
build their predictors with ``build_linear_layer(cls_predictor_cfg, ...)``,
so a config can swap ``nn.Linear`` for e.g. ``NormedLinear``."""

from mmcv.utils import Registry
from torch import nn

LINEAR_LAYERS = Registry('linear layers')
LINEAR_LAYERS.register_module('Linear', module=nn.Linear)


def build_linear_layer(cfg, *args, **kwargs):
    """The linear layer ``cfg`` names (``dict(type='Linear')`` when None),
    built with ``args``/``kwargs`` and the config's other keys."""
    cfg = dict(type='Linear') if cfg is None else dict(cfg)
    if 'type' not in cfg:
        raise KeyError(f'a linear layer config needs a type, got {cfg}')
    layer_type = cfg.pop('type')
    layer = LINEAR_LAYERS.get(layer_type)
    if layer is None:
        raise KeyError(
            f'unknown linear layer type {layer_type!r}; registered: '
            f'{sorted(LINEAR_LAYERS.module_dict)}'
        )
    return layer(*args, **kwargs, **cfg)
