"""Grid R-CNN's RoI head: the box branch classifies, the grid head
re-locates the boxes (Lu et al., 2019)."""

import numpy as np
import torch
from mmcv import ConfigDict

from mmdet.core import bbox2result, bbox2roi
from mmdet.utils.arg_errors import check_arg
from ..builder import HEADS, build_head, build_roi_extractor
from ..dense_heads.cfg_check import check_cfg_keys
from .base_roi_head import TRAIN_CFG_KEYS
from .standard_roi_head import StandardRoIHead


def jitter_boxes(bboxes, img_shape, amplitude=0.15):
    """(n, 4) boxes with centres moved and sides scaled by uniform noise in
    ``[-amplitude, amplitude]`` of their size, clipped to the image."""
    noise = bboxes.new_empty(bboxes.size(0), 4).uniform_(-amplitude, amplitude)
    centre = (bboxes[:, 2:4] + bboxes[:, :2]) / 2
    size = (bboxes[:, 2:4] - bboxes[:, :2]).abs()
    centre = centre + size * noise[:, :2]
    size = size * (1 + noise[:, 2:])
    out = torch.cat([centre - size / 2, centre + size / 2], dim=1)
    if img_shape is not None:
        out[:, 0::2].clamp_(min=0, max=img_shape[1] - 1)
        out[:, 1::2].clamp_(min=0, max=img_shape[0] - 1)
    return out


@HEADS.register_module()
class GridRoIHead(StandardRoIHead):
    """StandardRoIHead plus ``grid_roi_extractor`` and ``grid_head``
    (``grid_roi_extractor=None`` shares the box extractor).

    Training jitters the positive boxes, then trains the grid head on at
    most ``train_cfg.max_num_grid`` (192) of them.
    """

    def __init__(self, grid_roi_extractor, grid_head, **kwargs):
        check_arg(grid_head is not None, 'GridRoIHead', 'needs a grid_head')
        super().__init__(**kwargs)
        if grid_roi_extractor is not None:
            self.grid_roi_extractor = build_roi_extractor(grid_roi_extractor)
            self.share_roi_extractor = False
        else:
            self.share_roi_extractor = True
            self.grid_roi_extractor = self.bbox_roi_extractor
        self.grid_head = build_head(grid_head)

    def init_train_cfg(self, train_cfg):
        keys = TRAIN_CFG_KEYS + ('pos_radius', 'max_num_grid')
        check_cfg_keys(train_cfg, keys, 'RoI head train_cfg')
        return ConfigDict(train_cfg) if train_cfg is not None else None

    def _random_jitter(self, sampling_results, img_metas, amplitude=0.15):
        """Replace each result's ``pos_bboxes`` by jittered copies."""
        for res, meta in zip(sampling_results, img_metas):
            res.pos_bboxes = jitter_boxes(
                res.pos_bboxes, meta['img_shape'], amplitude
            )
        return sampling_results

    def _grid_forward(self, x, rois):
        feats = self.grid_roi_extractor(
            x[: self.grid_roi_extractor.num_inputs], rois
        )
        if self.with_shared_head:
            feats = self.shared_head(feats)
        return feats

    def forward_dummy(self, x, proposals):
        outs = super().forward_dummy(x, proposals)
        rois = bbox2roi([proposals])[:100]
        grid_pred = self.grid_head(self._grid_forward(x, rois))
        # MMDetection's order: box outputs, grid, mask
        if self.with_mask:
            return outs[:2] + (grid_pred,) + outs[2:]
        return outs + (grid_pred,)

    def _bbox_forward_train(
        self, x, sampling_results, gt_bboxes, gt_labels, img_metas
    ):
        bbox_results = super()._bbox_forward_train(
            x, sampling_results, gt_bboxes, gt_labels, img_metas
        )
        sampling_results = self._random_jitter(sampling_results, img_metas)
        pos_rois = bbox2roi([res.pos_bboxes for res in sampling_results])
        if pos_rois.size(0) == 0:  # GN takes no empty batch
            return bbox_results
        feats = self._grid_forward(x, pos_rois)
        max_num = self.train_cfg.get('max_num_grid', 192)
        keep = torch.randperm(feats.size(0))[: min(feats.size(0), max_num)]
        grid_pred = self.grid_head(feats[keep])
        targets = self.grid_head.get_targets(sampling_results, self.train_cfg)
        loss_grid = self.grid_head.loss(grid_pred, targets[keep])
        bbox_results['loss_bbox'].update(loss_grid)
        return bbox_results

    def _empty_bbox_result(self):
        return [
            np.zeros((0, 5), dtype=np.float32)
            for _ in range(self.bbox_head.num_classes)
        ]

    def _refine(self, x, det_bboxes, img_metas, rescale):
        """Per image (n, 5) grid-refined detections (original pixels with
        ``rescale``)."""
        rois = bbox2roi([b[:, :4] for b in det_bboxes])
        self.grid_head.test_mode = True
        heatmaps = self.grid_head(self._grid_forward(x, rois))['fused']
        heatmaps = heatmaps.split([len(b) for b in det_bboxes])
        refined = []
        for boxes, maps, meta in zip(det_bboxes, heatmaps, img_metas):
            if boxes.size(0) == 0:
                refined.append(None)
                continue
            out = self.grid_head.get_bboxes(boxes, maps, [meta])
            if rescale:
                out[:, :4] /= out.new_tensor(meta['scale_factor'])
            refined.append(out)
        return refined

    def simple_test(
        self, x, proposal_list, img_metas, proposals=None, rescale=False
    ):
        """Per image, per class (n, 5) arrays of the grid-refined boxes
        (and, with a mask head, the masks of the unrefined ones)."""
        check_arg(self.with_bbox, 'GridRoIHead', 'needs a bbox head')
        det_bboxes, det_labels = self.simple_test_bboxes(
            x, img_metas, proposal_list, self.test_cfg, rescale=False
        )
        if sum(len(b) for b in det_bboxes) == 0:
            bbox_results = [self._empty_bbox_result() for _ in det_bboxes]
        else:
            refined = self._refine(x, det_bboxes, img_metas, rescale)
            bbox_results = [
                self._empty_bbox_result()
                if boxes is None
                else bbox2result(boxes, labels, self.bbox_head.num_classes)
                for boxes, labels in zip(refined, det_labels)
            ]
        if not self.with_mask:
            return bbox_results
        segm_results = self.simple_test_mask(
            x, img_metas, det_bboxes, det_labels, rescale=rescale
        )
        return list(zip(bbox_results, segm_results))
