"""What the four classification backbones share: freezing, ``norm_eval``,
random initialisation and strict loading of ImageNet checkpoints."""

import os.path as osp

import torch.nn as nn
from mmcv.cnn import initialize
from mmcv.runner import BaseModule
from torch.nn.modules.batchnorm import _BatchNorm

from mmdet.core.hook.odconv_temperature import set_temperature
from mmdet.utils.arg_errors import check_arg
from mmdet.utils.checkpoint_reader import read_checkpoint
from mmdet.utils.model_zoo import checkpoint_file
from mmdet.utils.state_dict import (
    checkpoint_state_dict,
    load_state_dict_checked,
)
from .odconv import ODConv2d

PRETRAINED_HINT = (
    'Check that the file holds the ImageNet weights of this '
    'backbone (docs/get_started.md, "Pretrained backbones").'
)


def load_pretrained(module, path, prefix=None, complete=None):
    """Load the ImageNet checkpoint ``path`` into ``module`` strictly.

    ``path`` is a local file or a name ``mmdet.utils.model_zoo`` resolves
    (``torchvision://resnet50``, ``open-mmlab://...``, an http(s) URL;
    downloaded once into torch's hub cache). Any form ``read_checkpoint``
    reads (a bare state dict, ``{'state_dict': ...}`` as mmcv and the ODConv
    ImageNet releases save, DataParallel's ``module.`` prefixes), without
    running code from the file. ``prefix`` keeps only the keys under it
    (e.g. ``'backbone.'`` of a detector checkpoint; the dot is added when
    missing, as mmcv does), stripped. Keys ``module.unused_checkpoint_key``
    names (a classifier the backbone lacks, e.g. ``fc.*`` for MMDetection's
    ResNet) are dropped; any other mismatch raises
    ``CheckpointMismatchError`` listing missing, unexpected and misshaped
    keys. ``complete(state_dict)``, when given, returns the weights with the
    keys a variant adds to the file's architecture filled in (e.g.
    DetectoRS's SAC layers).
    """
    name = path
    path = checkpoint_file(path)
    if not osp.exists(path):
        raise FileNotFoundError(
            f'pretrained backbone checkpoint {path!r} does not exist. Put the '
            'ImageNet weights there (docs/get_started.md, "Pretrained '
            'backbones"), '
            'or train from scratch with --cfg-options model.pretrained=None'
        )
    state_dict = checkpoint_state_dict(read_checkpoint(path))
    if prefix:
        prefix = prefix if prefix.endswith('.') else prefix + '.'
        state_dict = {
            k[len(prefix) :]: v
            for k, v in state_dict.items()
            if k.startswith(prefix)
        }
        if not state_dict:
            raise KeyError(
                f'{name!r} holds no key starting with the prefix {prefix!r}'
            )
    unused = getattr(module, 'unused_checkpoint_key', None)
    if unused is not None:
        state_dict = {k: v for k, v in state_dict.items() if not unused(k)}
    if complete is not None:
        state_dict = complete(state_dict)
    source = repr(name) if name == path else f'{name!r} ({path})'
    load_state_dict_checked(
        module, state_dict, source, strict=True, hint=PRETRAINED_HINT
    )


def image_size_pair(value, owner):
    """``(h, w)`` of an int, a 1-tuple or a 2-tuple size argument."""
    if isinstance(value, int):
        return (value, value)
    size = tuple(value)
    if len(size) == 1:
        size = size * 2
    check_arg(
        len(size) == 2,
        owner,
        f'a size must be an int or 1 or 2 ints, got {value!r}',
    )
    return size


def has_checkpoint(init_cfg):
    """Whether ``init_cfg`` names a checkpoint (MMDetection's transformer
    backbones accept ``dict(checkpoint=...)`` without ``type``)."""
    return isinstance(init_cfg, dict) and 'checkpoint' in init_cfg


def load_init_cfg_checkpoint(module, convert):
    """Load the checkpoint of ``module.init_cfg`` (``checkpoint=``, with or
    without ``type='Pretrained'``) into ``module`` non-strictly, as
    MMDetection's transformer backbones do: ``convert`` maps the file's
    state dict to the module's keys; mismatches are logged."""
    cfg = module.init_cfg
    name = type(module).__name__
    check_arg(
        isinstance(cfg, dict) and 'checkpoint' in cfg,
        name,
        f'init_cfg must name a checkpoint (got {cfg!r}); only '
        "dict(type='Pretrained', checkpoint=...) is supported",
    )
    path = checkpoint_file(cfg['checkpoint'])
    state_dict = checkpoint_state_dict(read_checkpoint(path))
    load_state_dict_checked(
        module, convert(dict(state_dict)), repr(cfg['checkpoint']), False
    )


class ClassificationBackbone(BaseModule):
    """Base of ResNet / MobileNetV2 and their ODConv versions.

    Subclasses build their layers, then call ``_post_init()``, and define
    ``_frozen_modules()`` (the modules ``frozen_stages`` covers).

    Args:
        frozen_stages (int): freeze the stem and the first ``frozen_stages``
            stages (-1: nothing, 0: the stem only); frozen parameters get
            ``requires_grad=False`` and their BatchNorms stay in eval mode.
        norm_eval (bool): keep every BatchNorm in eval mode while training
            (running statistics frozen, as for fine-tuning with small
            batches).
        pretrained (str, optional): path of an ImageNet checkpoint, loaded
            strictly by ``init_weights()``.
    """

    def __init__(
        self, frozen_stages=-1, norm_eval=True, pretrained=None, init_cfg=None
    ):
        super().__init__(init_cfg)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.pretrained = pretrained
        self._check_pretrained()

    def _post_init(self):
        self._random_init()
        self._freeze_stages()

    def _frozen_modules(self):
        raise NotImplementedError

    def unused_checkpoint_key(self, key):
        """True for a key of an ImageNet checkpoint that this backbone
        does not build (here: a classifier ``fc.*`` when there is no
        ``fc``); such keys are dropped when loading it."""
        return key.startswith('fc.') and not hasattr(self, 'fc')

    def _freeze_stages(self):
        for module in self._frozen_modules():
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def _random_init(self):
        """torchvision's initialisation (ODConv2d initialises itself)."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(
                    m.weight, mode='fan_out', nonlinearity='relu'
                )
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, ODConv2d):
                m.reset_parameters()
            elif isinstance(m, (_BatchNorm, nn.GroupNorm)) and m.affine:
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def _check_pretrained(self):
        name = type(self).__name__
        if self.pretrained is not None and not isinstance(
            self.pretrained, str
        ):
            raise TypeError(
                f'{name}: pretrained must be a str (a path, URL '
                'or model-zoo name) or None, got '
                f'{type(self.pretrained).__name__}'
            )
        check_arg(
            not (self.init_cfg and self.pretrained),
            name,
            'init_cfg and pretrained cannot be specified at the same time '
            f'(init_cfg={self.init_cfg!r}, pretrained={self.pretrained!r}); '
            'set one of them to None',
        )

    def _pretrained_source(self):
        """``(checkpoint, prefix)`` to load, or None."""
        self._check_pretrained()
        if self.pretrained is not None:
            return self.pretrained, None
        cfg = self.init_cfg
        if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
            return cfg['checkpoint'], cfg.get('prefix')
        return None

    def _complete_pretrained(self, state_dict):
        """The pretrained weights as read (subclasses may add keys)."""
        return state_dict

    def init_weights(self):
        """Random initialisation, then the ``pretrained`` checkpoint or the
        ``init_cfg`` (``type='Pretrained'``: its ``checkpoint`` and
        ``prefix``; another mmcv init config is applied as mmcv does)."""
        self._random_init()
        source = self._pretrained_source()
        if source is not None:
            load_pretrained(self, *source, complete=self._complete_pretrained)
        elif self.init_cfg is not None:
            initialize(self, self.init_cfg)
        self._is_init = True

    def train(self, mode=True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    def net_update_temperature(self, temperature):
        """Set the ODConv attention temperature of every layer (the ODConv
        authors' name for ``mmdet.core.set_temperature``)."""
        set_temperature(self, temperature)
