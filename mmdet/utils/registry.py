"""Building objects from config dicts with errors that help.

mmcv's ``build_from_cfg`` says only that a type is missing; a user with a typo
in a config wants to see what they could have written. ``build_from_cfg``
here lists the registered names, and ``build_model_from_cfg`` also accepts a
list of configs (an ``nn.Sequential``), as mmcv's model registry does.
"""

import difflib

from mmcv.utils import Registry
from mmcv.utils import build_from_cfg as mmcv_build_from_cfg


def registered_names(registry):
    """Every name ``registry`` can build, its children's with their scope."""
    names = set(registry.module_dict)
    for scope, child in registry.children.items():
        names.update(f'{scope}.{name}' for name in registered_names(child))
    return sorted(names)


def check_type_registered(cfg, registry):
    """Raise KeyError naming the type, the registry and the choices."""
    if not isinstance(cfg, dict) or not isinstance(cfg.get('type'), str):
        return
    if registry.get(cfg['type']) is not None:
        return
    names = registered_names(registry)
    close = difflib.get_close_matches(cfg['type'], names, n=3)
    hint = f' Did you mean {", ".join(map(repr, close))}?' if close else ''
    raise KeyError(
        f"type '{cfg['type']}' is not in the '{registry.name}' "
        f'registry.{hint} Registered: {", ".join(names)}'
    )


def build_from_cfg(cfg, registry, default_args=None):
    """mmcv's ``build_from_cfg`` with a helpful unknown-type error."""
    check_type_registered(cfg, registry)
    return mmcv_build_from_cfg(cfg, registry, default_args)


def build_model_from_cfg(cfg, registry, default_args=None):
    """A module from a config dict, or an ``nn.Sequential`` from a list."""
    if isinstance(cfg, list):
        from torch import nn

        return nn.Sequential(
            *[build_from_cfg(c, registry, default_args) for c in cfg]
        )
    return build_from_cfg(cfg, registry, default_args)


__all__ = [
    'Registry',
    'build_from_cfg',
    'build_model_from_cfg',
    'check_type_registered',
    'registered_names',
]
