"""RoI features from the one pyramid level that matches each RoI's size."""

import torch
from mmcv.runner import force_fp32

from mmdet.models.builder import ROI_EXTRACTORS
from .base_roi_extractor import BaseRoIExtractor


@ROI_EXTRACTORS.register_module()
class SingleRoIExtractor(BaseRoIExtractor):
    """Pool each RoI from a single level chosen by its scale (the FPN
    paper's rule, with MMDetection's constants).

    Args:
        roi_layer (dict): pooling layer config (see BaseRoIExtractor).
        out_channels (int): feature channels.
        featmap_strides (list[int]): stride of each level.
        finest_scale (int): RoIs with ``sqrt(area) < 2 * finest_scale``
            go to level 0.
        init_cfg (dict, optional): initialization config.
    """

    def __init__(
        self,
        roi_layer,
        out_channels,
        featmap_strides,
        finest_scale=56,
        init_cfg=None,
    ):
        super().__init__(roi_layer, out_channels, featmap_strides, init_cfg)
        self.finest_scale = finest_scale

    def map_roi_levels(self, rois, num_levels):
        """Level of each RoI.

        ``floor(log2(sqrt(w * h) / finest_scale + 1e-6))`` clamped to
        ``[0, num_levels - 1]``: with ``finest_scale=56``, level 0 below a
        scale of 112, 1 in [112, 224), 2 in [224, 448), 3 from 448.

        Args:
            rois (Tensor): (K, 5) ``[batch_idx, x1, y1, x2, y2]``.
            num_levels (int): number of levels.

        Returns:
            Tensor: (K,) long level indices.
        """
        scale = torch.sqrt(
            (rois[:, 3] - rois[:, 1]) * (rois[:, 4] - rois[:, 2])
        )
        levels = torch.floor(torch.log2(scale / self.finest_scale + 1e-6))
        return levels.clamp(min=0, max=num_levels - 1).long()

    @force_fp32(apply_to=('feats',), out_fp16=True)
    def forward(self, feats, rois, roi_scale_factor=None):
        """Pool every RoI from its level.

        Args:
            feats (tuple[Tensor]): levels, each (B, out_channels, H, W);
                only the first ``num_inputs`` are read.
            rois (Tensor): (K, 5) ``[batch_idx, x1, y1, x2, y2]`` in input
                pixels.
            roi_scale_factor (float, optional): enlarge the RoIs (after
                choosing their level) before pooling.

        Returns:
            Tensor: (K, out_channels, h, w).
        """
        out_size = self.roi_layers[0].output_size
        num_levels = len(feats)
        if num_levels == 1:
            if roi_scale_factor is not None:
                rois = self.roi_rescale(rois, roi_scale_factor)
            return self.roi_layers[0](feats[0], rois)

        target_lvls = self.map_roi_levels(rois, num_levels)
        if roi_scale_factor is not None:
            rois = self.roi_rescale(rois, roi_scale_factor)
        if torch.onnx.is_in_onnx_export():
            return self._pool_by_level(feats, rois, target_lvls)
        roi_feats = feats[0].new_zeros(
            rois.size(0), self.out_channels, *out_size
        )
        for level in range(num_levels):
            inds = torch.nonzero(target_lvls == level, as_tuple=True)[0]
            if inds.numel() > 0:
                roi_feats[inds] = self.roi_layers[level](
                    feats[level], rois[inds]
                )
            else:
                # keep the unused level in the graph: distributed training
                # expects a gradient (of zero) for every level
                roi_feats = roi_feats + feats[level].sum() * 0.0
        return roi_feats

    def _pool_by_level(self, feats, rois, levels):
        """What :meth:`forward` computes, written for an ONNX graph: no
        branch on a level's RoI count (a traced ``if`` would freeze the
        example's) and no indexed write; each level pools its RoIs and a
        permutation puts them back in the order of ``rois``. An RoI of no
        level (a NaN size: an inverted box) gets zeros, as in forward."""
        pooled, order = [], []
        for lvl, (feat, layer) in enumerate(zip(feats, self.roi_layers)):
            inds = torch.nonzero(levels == lvl, as_tuple=True)[0]
            pooled.append(layer(feat, rois[inds]))
            order.append(inds)
        none = (levels < 0) | (levels >= len(feats))
        inds = torch.nonzero(none, as_tuple=True)[0]
        pooled.append(
            pooled[0].new_zeros((inds.size(0), *pooled[0].shape[1:]))
        )
        order.append(inds)
        return torch.cat(pooled)[torch.cat(order).argsort()]
