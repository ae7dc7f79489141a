"""Model registries and build functions (MMDetection 2.x names).

As in MMDetection 2.x there is one model registry, ``MODELS`` (a child of
mmcv's, so ``type='mmcv.X'`` reaches mmcv's models); ``BACKBONES``,
``NECKS``, ``ROI_EXTRACTORS``, ``SHARED_HEADS``, ``HEADS``, ``LOSSES`` and
``DETECTORS`` are other names for it.
"""

import warnings

from mmcv.cnn import MODELS as MMCV_MODELS
from mmcv.utils import Registry

from mmdet.utils.registry import build_model_from_cfg

MODELS = Registry(
    'models', parent=MMCV_MODELS, build_func=build_model_from_cfg
)

BACKBONES = MODELS
NECKS = MODELS
ROI_EXTRACTORS = MODELS
SHARED_HEADS = MODELS
HEADS = MODELS
LOSSES = MODELS
DETECTORS = MODELS


def build_backbone(cfg):
    """Build a backbone from its config dict."""
    return BACKBONES.build(cfg)


def build_neck(cfg):
    """Build a neck from its config dict."""
    return NECKS.build(cfg)


def build_roi_extractor(cfg):
    """Build an RoI feature extractor from its config dict."""
    return ROI_EXTRACTORS.build(cfg)


def build_shared_head(cfg):
    """Build a shared RoI head (e.g. ``ResLayer``) from its config dict."""
    return SHARED_HEADS.build(cfg)


def build_head(cfg):
    """Build a head (dense, RoI, bbox or mask head) from its config dict."""
    return HEADS.build(cfg)


def build_loss(cfg):
    """Build a loss module from its config dict."""
    return LOSSES.build(cfg)


def build_detector(cfg, train_cfg=None, test_cfg=None):
    """Build a detector; ``train_cfg``/``test_cfg`` outside ``cfg`` are the
    deprecated MMDetection 1.x way and give a warning."""
    if train_cfg is not None or test_cfg is not None:
        warnings.warn(
            'train_cfg and test_cfg are deprecated outside the model: '
            'put them in the model config',
            UserWarning,
        )
    if train_cfg is not None and cfg.get('train_cfg') is not None:
        raise ValueError(
            'train_cfg given both in the model config and as an argument'
        )
    if test_cfg is not None and cfg.get('test_cfg') is not None:
        raise ValueError(
            'test_cfg given both in the model config and as an argument'
        )
    default_args = {}
    if train_cfg is not None:
        default_args['train_cfg'] = train_cfg
    if test_cfg is not None:
        default_args['test_cfg'] = test_cfg
    return DETECTORS.build(cfg, default_args=default_args or None)
