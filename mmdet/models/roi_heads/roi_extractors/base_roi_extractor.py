"""Base class of the RoI feature extractors."""

from abc import ABCMeta, abstractmethod

import torch
from mmcv.runner import BaseModule
from torch import nn

from .deform_roi_pool import (
    DeformRoIPool,
    DeformRoIPoolPack,
    ModulatedDeformRoIPoolPack,
)
from .roi_align import RoIAlign
from .simple_roi_align import SimpleRoIAlign

# the layer types an RoI extractor's ``roi_layer`` config may name
ROI_LAYERS = {
    cls.__name__: cls
    for cls in (
        RoIAlign,
        SimpleRoIAlign,
        DeformRoIPool,
        DeformRoIPoolPack,
        ModulatedDeformRoIPoolPack,
    )
}


class BaseRoIExtractor(BaseModule, metaclass=ABCMeta):
    """Pools a fixed-size feature for every RoI from a feature pyramid.

    Args:
        roi_layer (dict): the pooling layer, e.g. ``dict(type='RoIAlign',
            output_size=7, sampling_ratio=0)``; one is built per level
            with ``spatial_scale = 1 / stride``.
        out_channels (int): channels of the features (and of the output).
        featmap_strides (list[int]): stride of each level.
        init_cfg (dict, optional): initialization config.
    """

    def __init__(
        self, roi_layer, out_channels, featmap_strides, init_cfg=None
    ):
        super().__init__(init_cfg)
        self.roi_layers = self.build_roi_layers(roi_layer, featmap_strides)
        self.out_channels = out_channels
        self.featmap_strides = featmap_strides
        self.fp16_enabled = False

    @property
    def num_inputs(self):
        """Number of feature levels the extractor reads."""
        return len(self.featmap_strides)

    def build_roi_layers(self, layer_cfg, featmap_strides):
        """One pooling layer per level, ``spatial_scale = 1 / stride``."""
        cfg = dict(layer_cfg)
        layer_type = cfg.pop('type')
        if layer_type not in ROI_LAYERS:
            raise KeyError(
                f'unknown RoI layer {layer_type!r}; available: '
                f'{sorted(ROI_LAYERS)}'
            )
        layer_cls = ROI_LAYERS[layer_type]
        return nn.ModuleList(
            [layer_cls(spatial_scale=1 / s, **cfg) for s in featmap_strides]
        )

    def roi_rescale(self, rois, scale_factor):
        """Scale the RoIs' width and height around their centres.

        Args:
            rois (Tensor): (K, 5) ``[batch_idx, x1, y1, x2, y2]``.
            scale_factor (float): e.g. 1.5 enlarges each side by half.
        """
        cx = (rois[:, 1] + rois[:, 3]) * 0.5
        cy = (rois[:, 2] + rois[:, 4]) * 0.5
        half_w = (rois[:, 3] - rois[:, 1]) * scale_factor * 0.5
        half_h = (rois[:, 4] - rois[:, 2]) * scale_factor * 0.5
        return torch.stack(
            [rois[:, 0], cx - half_w, cy - half_h, cx + half_w, cy + half_h],
            dim=-1,
        )

    @abstractmethod
    def forward(self, feats, rois, roi_scale_factor=None):
        """(K, out_channels, h, w) features of ``rois`` (K, 5)."""
