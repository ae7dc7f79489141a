"""``${key}`` references inside a config (MMDetection 2.x's
``replace_cfg_vals``), resolved when a config is loaded."""

import re

from mmcv.utils import Config

from .arg_errors import InvalidArgumentError

# ${a.b.c}: a dotted path from the config's top level
_REFERENCE = re.compile(r'\$\{[a-zA-Z\d_.]*\}')


def _lookup(cfg, dotted):
    for key in dotted.split('.'):
        cfg = cfg[key]
    return cfg


def replace_cfg_vals(ori_cfg):
    """A new Config in which every ``"${key.path}"`` string is replaced.

    A string that is exactly one reference becomes the referenced value
    (of any type); references inside a longer string are replaced by the
    ``str`` of their values, which must then not be a dict, list or tuple.
    References are looked up in ``ori_cfg`` itself (not resolved
    recursively). A top-level ``model_wrapper`` then replaces ``model``.

    Args:
        ori_cfg (mmcv.Config): a config as read from its file.

    Returns:
        mmcv.Config: the updated copy.
    """

    def resolve(value):
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(resolve(v) for v in value)
        if not isinstance(value, str):
            return value
        refs = _REFERENCE.findall(value)
        if refs == [value]:
            return _lookup(ori_cfg, value[2:-1])
        for ref in refs:
            found = _lookup(ori_cfg, ref[2:-1])
            if isinstance(found, (dict, list, tuple)):
                raise InvalidArgumentError(
                    f'{ref} inside the string {value!r} refers to a '
                    f'{type(found).__name__}; only a string that is exactly '
                    f'{ref} can take a dict, list or tuple'
                )
            value = value.replace(ref, str(found))
        return value

    cfg = Config(resolve(ori_cfg._cfg_dict), filename=ori_cfg.filename)
    if cfg.get('model_wrapper', None) is not None:
        cfg.model = cfg.pop('model_wrapper')
    return cfg
