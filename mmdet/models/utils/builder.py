"""Registries MMDetection 2.x keeps in ``mmdet.models.utils``:
``TRANSFORMER`` (the ``transformer=`` of DETR heads, Sparse R-CNN's
``DynamicConv``) and ``LINEAR_LAYERS`` (mmcv has none: box heads build their
predictors with ``build_linear_layer(cls_predictor_cfg, ...)``, so a config
can swap ``nn.Linear`` for e.g. ``NormedLinear``)."""

from mmcv.utils import Registry, build_from_cfg
from torch import nn

TRANSFORMER = Registry('Transformer')
LINEAR_LAYERS = Registry('linear layers')
LINEAR_LAYERS.register_module('Linear', module=nn.Linear)


def build_transformer(cfg, default_args=None):
    """Build a module registered in ``TRANSFORMER`` from its config."""
    return build_from_cfg(cfg, TRANSFORMER, default_args)


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
