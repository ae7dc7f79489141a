"""What the four classification backbones share: freezing, ``norm_eval``,
random initialisation and strict loading of ImageNet checkpoints."""
import os.path as osp
from collections import OrderedDict

import torch
import torch.nn as nn
from mmcv.runner import BaseModule
from torch.nn.modules.batchnorm import _BatchNorm

from .odconv import ODConv2d, net_update_temperature


def read_state_dict(path):
    """The state dict inside an ImageNet checkpoint file.

    Accepts a bare state dict, ``{'state_dict': ...}`` (mmcv, and the ODConv
    ImageNet releases) or ``{'model': ...}``, and strips the ``module.``
    prefix a DataParallel/DistributedDataParallel model adds. The file is
    read with ``weights_only=True``: a pickle that would run code is refused.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'pretrained backbone checkpoint {path!r} does not exist. Put the '
            'ImageNet weights there (README.md, "Pretrained backbones"), '
            'or train from scratch with --cfg-options model.pretrained=None')
    ckpt = torch.load(path, map_location='cpu', weights_only=True)
    for key in ('state_dict', 'model'):
        if isinstance(ckpt, dict) and isinstance(ckpt.get(key), dict):
            ckpt = ckpt[key]
            break
    if not ckpt or not all(isinstance(v, torch.Tensor)
                           for v in ckpt.values()):
        raise ValueError(f'{path!r} holds no state dict of tensors')
    if all(k.startswith('module.') for k in ckpt):
        ckpt = OrderedDict((k[len('module.'):], v) for k, v in ckpt.items())
    return ckpt


def load_state_dict_strict(module, state_dict, source):
    """``module.load_state_dict(state_dict)`` that names every mismatch.

    Raises RuntimeError listing the missing keys, the unexpected keys and the
    keys whose shapes differ (with both shapes).
    """
    own = module.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    shapes = sorted(
        f'{k}: checkpoint {tuple(state_dict[k].shape)} vs model '
        f'{tuple(own[k].shape)}' for k in set(own) & set(state_dict)
        if own[k].shape != state_dict[k].shape)
    if missing or unexpected or shapes:
        lines = [f'{source} does not match {type(module).__name__}:']
        for title, items in (('missing keys', missing),
                             ('unexpected keys', unexpected),
                             ('shape mismatches', shapes)):
            if items:
                lines.append(f'  {title} ({len(items)}): ' + ', '.join(items))
        raise RuntimeError('\n'.join(lines))
    module.load_state_dict(state_dict, strict=True)


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

    def __init__(self, frozen_stages=-1, norm_eval=True, pretrained=None,
                 init_cfg=None):
        super().__init__(init_cfg)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.pretrained = pretrained

    def _post_init(self):
        self._random_init()
        self._freeze_stages()

    def _frozen_modules(self):
        raise NotImplementedError

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
                    m.weight, mode='fan_out', nonlinearity='relu')
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, ODConv2d):
                m.reset_parameters()
            elif isinstance(m, (_BatchNorm, nn.GroupNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def init_weights(self):
        """Random initialisation, then the ``pretrained`` checkpoint if set."""
        self._random_init()
        if self.pretrained is not None:
            if not isinstance(self.pretrained, str):
                raise TypeError('pretrained must be a path or None, got '
                                f'{type(self.pretrained).__name__}')
            load_state_dict_strict(self, read_state_dict(self.pretrained),
                                   repr(self.pretrained))
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
        """Set the ODConv attention temperature of every layer."""
        net_update_temperature(self, temperature)
