"""RoI features pooled from every pyramid level and aggregated (GRoIE:
Rossi et al., "A novel Region of Interest Extraction Layer for Instance
Segmentation", 2020)."""

import torch
from mmcv.cnn import build_plugin_layer
from mmcv.runner import force_fp32

from mmdet.models.builder import ROI_EXTRACTORS
from mmdet.utils.arg_errors import InvalidArgumentError, check_arg
from .base_roi_extractor import BaseRoIExtractor

AGGREGATIONS = ('sum', 'concat')


@ROI_EXTRACTORS.register_module()
class GenericRoIExtractor(BaseRoIExtractor):
    """Pool each RoI from all levels, process each level's features with
    the shared ``pre_module``, aggregate, then apply ``post_module``.

    Args:
        aggregation (str): 'sum' the levels (each with ``out_channels``),
            or 'concat' them along channels (their channels must add up to
            ``out_channels``).
        pre_cfg (dict, optional): mmcv plugin layer (e.g. ``ConvModule``)
            applied to every level's pooled features.
        post_cfg (dict, optional): mmcv plugin layer (e.g.
            ``GeneralizedAttention``) applied to the aggregate.
        **kwargs: ``roi_layer``, ``out_channels``, ``featmap_strides``,
            ``init_cfg`` of :class:`BaseRoIExtractor`.
    """

    def __init__(
        self, aggregation='sum', pre_cfg=None, post_cfg=None, **kwargs
    ):
        super().__init__(**kwargs)
        if aggregation not in AGGREGATIONS:
            raise InvalidArgumentError(
                f'GenericRoIExtractor: aggregation must be one of '
                f'{AGGREGATIONS}, got {aggregation!r}'
            )
        self.aggregation = aggregation
        self.with_post = post_cfg is not None
        self.with_pre = pre_cfg is not None
        if self.with_post:
            self.post_module = build_plugin_layer(post_cfg, '_post_module')[1]
        if self.with_pre:
            self.pre_module = build_plugin_layer(pre_cfg, '_pre_module')[1]

    @force_fp32(apply_to=('feats',), out_fp16=True)
    def forward(self, feats, rois, roi_scale_factor=None):
        """(K, out_channels, h, w) features of ``rois`` (K, 5) from the
        levels ``feats`` (each (B, C, H, W)); ``roi_scale_factor`` enlarges
        the RoIs first."""
        if len(feats) == 1:
            return self.roi_layers[0](feats[0], rois)
        out_size = self.roi_layers[0].output_size
        if rois.size(0) == 0:
            return feats[0].new_zeros(0, self.out_channels, *out_size)
        if roi_scale_factor is not None:
            rois = self.roi_rescale(rois, roi_scale_factor)
        levels = []
        for level, feat in enumerate(feats):
            pooled = self.roi_layers[level](feat, rois)
            levels.append(self.pre_module(pooled) if self.with_pre else pooled)
        if self.aggregation == 'sum':
            roi_feats = sum(levels[1:], levels[0])
        else:
            roi_feats = self._concat(levels)
        return self.post_module(roi_feats) if self.with_post else roi_feats

    def _concat(self, levels):
        """The levels' features side by side along channels."""
        channels = sum(level.size(1) for level in levels)
        check_arg(
            channels == self.out_channels,
            'GenericRoIExtractor',
            f"aggregation='concat' gives {channels} channels, "
            f'out_channels is {self.out_channels}',
        )
        return torch.cat(levels, dim=1)
