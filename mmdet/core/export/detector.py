"""An export-friendly inference path of a two-stage detector (Faster /
Mask R-CNN), computing what ``simple_test(..., rescale=True)`` computes for
one image with operations that ONNX expresses.

The module reads the detector's own layers and ``test_cfg``; it changes
nothing in the detector. Differences to the eager path are only in form:
ranking uses ``topk`` also where the eager code keeps every box, NMS is
ONNX's ``NonMaxSuppression`` over boxes shifted by level (RPN) or class
(R-CNN) as ``batched_nms`` shifts them, and the RoIs of each FPN level
are pooled and put back in order with a permutation instead of an indexed
write.
"""

import torch
from torch import nn

from ..post_processing.bbox_nms import group_offsets
from .ops import onnx_nms, size_of, topk_at_most

# NonMaxSuppression's score threshold that every score passes (scores
# are probabilities; the R-CNN's score_thr is applied before)
_ANY_SCORE = -1.0


def _shifted(boxes, groups):
    """(N, 4) ``boxes`` shifted by ``groups * (max coordinate + 1)`` (what
    ``batched_nms`` does, so that one NMS suppresses within groups only and
    the IoUs are rounded as in PyTorch). The max includes 0, so that an
    empty set gives an empty graph result instead of an error; boxes are
    clipped to the image, so 0 changes nothing."""
    top = torch.cat([boxes.flatten(), boxes.new_zeros(1)]).max()
    return boxes + group_offsets(boxes, groups, top)[:, None]


def _nms_iou(nms_cfg, where):
    """IoU threshold of an ``nms`` config, refusing what the graph does not
    implement."""
    cfg = dict(nms_cfg)
    if cfg.pop('type', 'nms') != 'nms':
        raise ValueError(
            f'{where}: only nms type "nms" exports to ONNX, '
            f'got {dict(nms_cfg)}'
        )
    cfg.pop('split_thr', None)
    iou = cfg.pop('iou_threshold', cfg.pop('iou_thr', None))
    if iou is None:
        raise KeyError(f'{where}: nms needs iou_threshold')
    if cfg.pop('offset', 0) != 0 or cfg:
        raise ValueError(
            f'{where}: nms options {sorted(cfg)} (and '
            'offset=1) do not export; remove them'
        )
    return float(iou)


def rpn_export_cfg(test_cfg):
    """(nms_pre, min_bbox_size, iou, max_per_img, across_levels) of an RPN
    ``test_cfg``, old MMDetection 2.x key names accepted."""
    cfg = dict(test_cfg)
    nms = cfg.get('nms', dict(type='nms', iou_threshold=cfg.get('nms_thr')))
    max_per_img = cfg.get('max_per_img', cfg.get('max_num'))
    if max_per_img is None:
        raise KeyError('test_cfg.rpn needs max_per_img')
    return (
        cfg.get('nms_pre', -1),
        cfg.get('min_bbox_size', -1),
        _nms_iou(nms, 'test_cfg.rpn'),
        max_per_img,
        cfg.get('nms_across_levels', False),
    )


def pool_rois(extractor, feats, rois):
    """RoI features of (K, 5) ``rois`` from the levels their size selects
    (what ``SingleRoIExtractor`` computes), written for ONNX.

    Returns:
        Tensor: (K, C, h, w) pooled features, in the order of ``rois``.
    """
    feats = feats[: extractor.num_inputs]
    if len(feats) == 1:
        return extractor.roi_layers[0](feats[0], rois)
    levels = extractor.map_roi_levels(rois, len(feats))
    pooled, order = [], []
    for lvl, (feat, layer) in enumerate(zip(feats, extractor.roi_layers)):
        inds = torch.nonzero(levels == lvl, as_tuple=True)[0]
        pooled.append(layer(feat, rois[inds]))
        order.append(inds)
    # the RoIs were grouped by level: undo the grouping
    return torch.cat(pooled)[torch.cat(order).argsort()]


# RoI heads whose test path is the standard one the graph reproduces
EXPORTABLE_ROI_HEADS = ('StandardRoIHead', 'DynamicRoIHead')


def check_exportable_roi_head(model):
    """Refuse, by name, a two-stage detector whose RoI head tests another
    way (cascade stages, HTC, mask scoring, double heads, a C4 shared
    head) or that fuses a panoptic result: the exported graph would
    silently compute something else."""
    if getattr(model, 'panoptic_fusion_head', None) is not None:
        raise NotImplementedError(
            f'{type(model).__name__} (panoptic) cannot be exported to ONNX '
            'yet: the graph would give its instances only'
        )
    head = model.roi_head
    name = type(head).__name__
    if name not in EXPORTABLE_ROI_HEADS or head.with_shared_head:
        what = 'a shared head (C4)' if name in EXPORTABLE_ROI_HEADS else name
        raise NotImplementedError(
            f'{type(model).__name__} with {what} cannot be exported to ONNX '
            'yet: only Faster R-CNN and Mask R-CNN with a '
            f'{" or ".join(EXPORTABLE_ROI_HEADS)} (FPN) export'
        )


class ExportableTwoStageDetector(nn.Module):
    """Whole-detector inference of one image, traceable by
    ``torch.onnx.export``.

    Args:
        model (TwoStageDetector): a Faster / Mask R-CNN in eval mode.

    Inputs of :meth:`forward`:
        img (Tensor): (1, 3, H, W) normalized, padded image.
        img_shape (Tensor): (2,) float ``[h, w]``, the image before padding
            (what boxes are clipped to).
        scale_factor (Tensor): (4,) float ``[w, h, w, h]`` scale from the
            original image to ``img``.

    Outputs:
        dets (Tensor): (n, 5) ``x1, y1, x2, y2, score`` in original-image
            pixels, descending by score.
        labels (Tensor): (n,) int64 classes.
        masks (Tensor, Mask R-CNN only): (n, h, w) mask probabilities
            (e.g. 28 x 28) of each detection's class, box-relative.
    """

    def __init__(self, model):
        super().__init__()
        if not (hasattr(model, 'rpn_head') and hasattr(model, 'roi_head')):
            raise TypeError(
                f'{type(model).__name__} is not a two-stage '
                'detector with rpn_head and roi_head'
            )
        check_exportable_roi_head(model)
        self.model = model
        self.rpn_cfg = rpn_export_cfg(model.rpn_head.test_cfg)
        rcnn = model.roi_head.test_cfg
        self.score_thr = float(rcnn['score_thr'])
        self.rcnn_iou = _nms_iou(rcnn['nms'], 'test_cfg.rcnn')
        self.max_per_img = int(rcnn['max_per_img'])
        self.with_mask = model.roi_head.with_mask

    @property
    def output_names(self):
        names = ['dets', 'labels']
        return names + ['masks'] if self.with_mask else names

    def forward(self, img, img_shape, scale_factor):
        feats = self.model.extract_feat(img)
        proposals = self.proposals(feats, img_shape)
        dets, labels = self.detections(
            feats, proposals, img_shape, scale_factor
        )
        if not self.with_mask:
            return dets, labels
        return dets, labels, self.masks(feats, dets, labels, scale_factor)

    # ------------------------------------------------------------- RPN
    def proposals(self, feats, img_shape):
        """(P, 4) proposals in input pixels, descending by objectness."""
        head = self.model.rpn_head
        nms_pre, min_size, iou, max_per_img, across = self.rpn_cfg
        cls_scores, bbox_preds = head(feats)
        anchors = head.prior_generator.grid_priors(
            [score.shape[-2:] for score in cls_scores],
            device=cls_scores[0].device,
        )
        clip = getattr(head.bbox_coder, 'clip_border', True)
        scores, boxes, levels = [], [], []
        for lvl, (score_map, delta_map, lvl_anchors) in enumerate(
            zip(cls_scores, bbox_preds, anchors)
        ):
            logits = (
                score_map[0]
                .permute(1, 2, 0)
                .reshape(-1, head.cls_out_channels)
            )
            lvl_scores = head._class_scores(logits)[:, 0]
            deltas = delta_map[0].permute(1, 2, 0).reshape(-1, 4)
            lvl_scores, inds = topk_at_most(lvl_scores, nms_pre)
            boxes.append(
                head.bbox_coder.decode(
                    lvl_anchors[inds],
                    deltas[inds],
                    max_shape=img_shape if clip else None,
                )
            )
            scores.append(lvl_scores)
            levels.append(torch.full_like(inds, lvl))
        scores, boxes = torch.cat(scores), torch.cat(boxes)
        levels = torch.cat(levels)
        if min_size >= 0:
            # (an .all(dim=1) here exports wrongly: two explicit tests)
            keep = (boxes[:, 2] - boxes[:, 0] > min_size) & (
                boxes[:, 3] - boxes[:, 1] > min_size
            )
            keep = torch.nonzero(keep, as_tuple=True)[0]
            scores, boxes, levels = scores[keep], boxes[keep], levels[keep]
        boxes_for_nms = boxes if across else _shifted(boxes, levels)
        selected = onnx_nms(
            boxes_for_nms[None], scores[None, None], iou, _ANY_SCORE
        )
        kept = selected[:, 2]
        _, order = topk_at_most(scores[kept], max_per_img)
        return boxes[kept[order]]

    # ------------------------------------------------------------ R-CNN
    def detections(self, feats, proposals, img_shape, scale_factor):
        """Class-wise NMS of the R-CNN's boxes: (n, 5) dets in original
        pixels and (n,) labels."""
        roi_head = self.model.roi_head
        bbox_head = roi_head.bbox_head
        rois = torch.cat(
            [proposals.new_zeros(size_of(proposals, 0), 1), proposals], dim=1
        )
        cls_score, bbox_pred = bbox_head(
            pool_rois(roi_head.bbox_roi_extractor, feats, rois)
        )
        if bbox_head.custom_cls_channels:
            scores = bbox_head.loss_cls.get_activation(cls_score)
        else:
            scores = cls_score.softmax(dim=-1)
        boxes = bbox_head.bbox_coder.decode(
            rois[:, 1:], bbox_pred, max_shape=img_shape
        )
        num_classes = scores.size(1) - 1
        # the class count as a constant: ONNX Runtime rewrites a computed
        # one to -1, which a 0-RoI input cannot resolve
        boxes = (
            boxes.view(size_of(boxes, 0), int(bbox_pred.size(1)) // 4, 4)
            / scale_factor
        )
        boxes = boxes.expand(-1, num_classes, -1)  # (K, C, 4)
        scores = scores[:, :num_classes]
        # the candidates above score_thr, then mmcv's batched NMS over them
        kept, labels = torch.nonzero(scores > self.score_thr, as_tuple=True)
        boxes, scores = boxes[kept, labels], scores[kept, labels]
        selected = onnx_nms(
            _shifted(boxes, labels)[None],
            scores[None, None],
            self.rcnn_iou,
            _ANY_SCORE,
        )[:, 2]
        det_scores, order = topk_at_most(scores[selected], self.max_per_img)
        kept = selected[order]
        labels = labels[kept]
        dets = torch.cat([boxes[kept], det_scores[:, None]], dim=1)
        return dets, labels

    # ------------------------------------------------------------- masks
    def masks(self, feats, dets, labels, scale_factor):
        """(n, h, w) mask probabilities of each detection's class."""
        roi_head = self.model.roi_head
        input_boxes = dets[:, :4] * scale_factor
        rois = torch.cat(
            [input_boxes.new_zeros(size_of(dets, 0), 1), input_boxes], dim=1
        )
        mask_pred = roi_head.mask_head(
            pool_rois(roi_head.mask_roi_extractor, feats, rois)
        )
        if roi_head.mask_head.class_agnostic:
            labels = torch.zeros_like(labels)
        index = torch.arange(size_of(mask_pred, 0), device=labels.device)
        return mask_pred[index, labels].sigmoid()


class ExportableFeatureMaps(nn.Module):
    """The detector without post-processing (``--skip-postprocess``): the
    RPN's per-level objectness logits and box deltas of a (1, 3, H, W)
    image."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, img):
        cls_scores, bbox_preds = self.model.rpn_head(
            self.model.extract_feat(img)
        )
        return tuple(cls_scores) + tuple(bbox_preds)
