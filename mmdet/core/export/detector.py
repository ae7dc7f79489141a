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
import torch.nn.functional as F
from torch import nn

from .nms import class_wise_dets, grouped_nms, nms_iou
from .ops import size_of, topk_at_most


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
        nms_iou(nms, 'test_cfg.rpn'),
        max_per_img,
        cfg.get('nms_across_levels', False),
    )


def pool_rois(extractor, feats, rois):
    """RoI features of (K, 5) ``rois`` from the levels their size selects:
    the extractor itself, which while ``torch.onnx.export`` traces pools
    level by level and puts the RoIs back in order with a permutation
    (``SingleRoIExtractor._pool_by_level``).

    Returns:
        Tensor: (K, C, h, w) pooled features, in the order of ``rois``.
    """
    return extractor(feats[: extractor.num_inputs], rois)


def detection_output_names(with_mask):
    """The outputs of an exported detector: ``dets``, ``labels`` and, with
    masks, ``masks``."""
    return ['dets', 'labels', 'masks'] if with_mask else ['dets', 'labels']


# the RoI heads whose test path a graph here reproduces, and which export
# module does it (the names, not subclasses: a subclass tests its own way)
STANDARD_ROI_HEADS = ('StandardRoIHead', 'DynamicRoIHead')
CASCADE_ROI_HEADS = ('CascadeRoIHead',)
HTC_ROI_HEADS = ('HybridTaskCascadeRoIHead',)
EXPORTABLE_FAMILIES = (
    'Faster R-CNN / Mask R-CNN (StandardRoIHead, DynamicRoIHead), '
    'Cascade (Mask) R-CNN (CascadeRoIHead), HTC '
    '(HybridTaskCascadeRoIHead), Sparse R-CNN / QueryInst (SparseRoIHead), '
    'SOLO / SOLOv2, DETR / Deformable DETR and single-stage detectors '
    'whose head uses the shared dense post-processing'
)


def check_exportable_roi_head(model, allowed=STANDARD_ROI_HEADS):
    """Refuse, by name, a two-stage detector whose RoI head is not one of
    ``allowed``, has a shared head (C4) or whose result is fused into a
    panoptic one: the exported graph would silently compute something
    else."""
    if getattr(model, 'panoptic_fusion_head', None) is not None:
        raise NotImplementedError(
            f'{type(model).__name__} (panoptic) cannot be exported to ONNX '
            'yet: the graph would give its instances only'
        )
    head = model.roi_head
    name = type(head).__name__
    if name not in allowed or head.with_shared_head:
        what = 'a shared head (C4)' if name in allowed else name
        raise NotImplementedError(
            f'{type(model).__name__} with {what} cannot be exported to '
            f'ONNX yet: what exports is {EXPORTABLE_FAMILIES}'
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

    EXPORTABLE_ROI_HEADS = STANDARD_ROI_HEADS

    def __init__(self, model):
        super().__init__()
        if not (hasattr(model, 'rpn_head') and hasattr(model, 'roi_head')):
            raise TypeError(
                f'{type(model).__name__} is not a two-stage '
                'detector with rpn_head and roi_head'
            )
        check_exportable_roi_head(model, self.EXPORTABLE_ROI_HEADS)
        self.model = model
        self.rpn_cfg = rpn_export_cfg(model.rpn_head.test_cfg)
        rcnn = model.roi_head.test_cfg
        self.score_thr = float(rcnn['score_thr'])
        self.rcnn_iou = nms_iou(rcnn['nms'], 'test_cfg.rcnn')
        self.max_per_img = int(rcnn['max_per_img'])
        self.with_mask = model.roi_head.with_mask

    @property
    def output_names(self):
        return detection_output_names(self.with_mask)

    def forward(self, img, img_shape, scale_factor):
        feats = self.model.extract_feat(img)
        return self.from_features(feats, img_shape, scale_factor)

    def from_features(self, feats, img_shape, scale_factor):
        """The outputs of :meth:`forward` from the image's FPN maps."""
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
        groups = torch.zeros_like(levels) if across else levels
        _, kept = grouped_nms(boxes, scores, groups, iou, max_per_img)
        return boxes[kept]

    # ------------------------------------------------------------ R-CNN
    def rcnn_outputs(self, feats, proposals, img_shape):
        """The R-CNN on (P, 4) proposals: (P, 5) RoIs, (P, C + 1) class
        logits and (P, 4 * C) or (P, 4) deltas."""
        roi_head = self.model.roi_head
        rois = torch.cat(
            [proposals.new_zeros(size_of(proposals, 0), 1), proposals], dim=1
        )
        cls_score, bbox_pred = roi_head.bbox_head(
            pool_rois(roi_head.bbox_roi_extractor, feats, rois)
        )
        return rois, cls_score, bbox_pred

    def final_bbox_head(self):
        return self.model.roi_head.bbox_head

    def detections(self, feats, proposals, img_shape, scale_factor):
        """Class-wise NMS of the R-CNN's boxes: (n, 5) dets in original
        pixels and (n,) labels."""
        rois, cls_score, bbox_pred = self.rcnn_outputs(
            feats, proposals, img_shape
        )
        bbox_head = self.final_bbox_head()
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
        return class_wise_dets(
            boxes[kept, labels],
            scores[kept, labels],
            labels,
            self.rcnn_iou,
            self.max_per_img,
        )

    # ------------------------------------------------------------- masks
    def mask_probs(self, feats, rois):
        """(n, C, h, w) mask probabilities of (n, 5) ``rois``."""
        roi_head = self.model.roi_head
        return roi_head.mask_head(
            pool_rois(roi_head.mask_roi_extractor, feats, rois)
        ).sigmoid()

    def final_mask_head(self):
        return self.model.roi_head.mask_head

    def masks(self, feats, dets, labels, scale_factor):
        """(n, h, w) mask probabilities of each detection's class."""
        input_boxes = dets[:, :4] * scale_factor
        rois = torch.cat(
            [input_boxes.new_zeros(size_of(dets, 0), 1), input_boxes], dim=1
        )
        probs = self.mask_probs(feats, rois)
        if self.final_mask_head().class_agnostic:
            labels = torch.zeros_like(labels)
        index = torch.arange(size_of(probs, 0), device=labels.device)
        return probs[index, labels]


class ExportableCascadeRCNN(ExportableTwoStageDetector):
    """:class:`ExportableTwoStageDetector` of a Cascade (Mask) R-CNN
    (``CascadeRoIHead``): the stages refine the RoIs one after another
    (each stage's deltas of its best non-background class), the class
    logits are averaged over the stages, the last stage's deltas give the
    boxes and the mask probabilities are averaged over the stages' mask
    heads, as ``CascadeRoIHead.simple_test`` computes them."""

    EXPORTABLE_ROI_HEADS = CASCADE_ROI_HEADS

    def rcnn_outputs(self, feats, proposals, img_shape):
        roi_head = self.model.roi_head
        rois = torch.cat(
            [proposals.new_zeros(size_of(proposals, 0), 1), proposals], dim=1
        )
        stage_scores = []
        for stage in range(roi_head.num_stages):
            head = roi_head.bbox_head[stage]
            cls_score, bbox_pred = head(
                self._roi_feats(
                    roi_head.bbox_roi_extractor[stage], feats, rois, 'bbox'
                )
            )
            stage_scores.append(cls_score)
            if stage < roi_head.num_stages - 1:
                rois = self._refine(
                    head, rois, cls_score, bbox_pred, img_shape
                )
        return rois, sum(stage_scores) / len(stage_scores), bbox_pred

    def _roi_feats(self, extractor, feats, rois, branch):
        """The RoI features of ``branch`` ('bbox' / 'mask') a stage's
        head takes (HTC adds its semantic embedding)."""
        return pool_rois(extractor, feats, rois)

    @staticmethod
    def _refine(head, rois, cls_score, bbox_pred, img_shape):
        """``head.regress_by_class`` on the best non-background class, with
        the RoI count kept dynamic in the graph."""
        if head.custom_activation:
            cls_score = head.loss_cls.get_activation(cls_score)
        label = cls_score[:, :-1].argmax(dim=1)
        if not head.reg_class_agnostic:
            count = size_of(bbox_pred, 0)
            index = torch.arange(count, device=label.device)
            bbox_pred = bbox_pred.view(count, -1, 4)[index, label]
        boxes = head.bbox_coder.decode(
            rois[:, 1:], bbox_pred, max_shape=img_shape
        )
        return torch.cat([rois[:, :1], boxes], dim=1)

    def final_bbox_head(self):
        return self.model.roi_head.bbox_head[-1]

    def mask_probs(self, feats, rois):
        roi_head = self.model.roi_head
        probs = [
            roi_head.mask_head[stage](
                pool_rois(roi_head.mask_roi_extractor[stage], feats, rois)
            ).sigmoid()
            for stage in range(roi_head.num_stages)
        ]
        return sum(probs) / len(probs)

    def final_mask_head(self):
        return self.model.roi_head.mask_head[-1]


class ExportableHTC(ExportableCascadeRCNN):
    """:class:`ExportableCascadeRCNN` of a Hybrid Task Cascade
    (``HybridTaskCascadeRoIHead``), as its ``simple_test``: the cascade's
    boxes, the semantic embedding (with a semantic head) pooled and added
    to the box and / or mask RoI features it is fused into, and one pass
    of the mask heads chained by the information flow on the last stage's
    mask RoI features, their probabilities averaged."""

    EXPORTABLE_ROI_HEADS = HTC_ROI_HEADS

    def forward(self, img, img_shape, scale_factor):
        feats = self.model.extract_feat(img)
        # the image's semantic embedding, read by the RoI features below
        self._semantic = self.model.roi_head._semantic_feat(feats)
        try:
            return self.from_features(feats, img_shape, scale_factor)
        finally:
            self._semantic = None

    def _roi_feats(self, extractor, feats, rois, branch):
        """``pool_rois`` plus the pooled semantic embedding where
        ``branch`` ('bbox' / 'mask') is fused, as ``_fuse_semantic``."""
        roi_head = self.model.roi_head
        pooled = super()._roi_feats(extractor, feats, rois, branch)
        fused = roi_head.with_semantic and branch in roi_head.semantic_fusion
        if not fused:
            return pooled
        semantic = pool_rois(
            roi_head.semantic_roi_extractor, [self._semantic], rois
        )
        size = [int(d) for d in pooled.shape[-2:]]  # static: the RoI size
        if list(semantic.shape[-2:]) != size:
            semantic = F.adaptive_avg_pool2d(semantic, size)
        return pooled + semantic

    def mask_probs(self, feats, rois):
        roi_head = self.model.roi_head
        mask_feats = self._roi_feats(
            roi_head.mask_roi_extractor[-1], feats, rois, 'mask'
        )
        probs = [
            logits.sigmoid()
            for logits in roi_head._all_stage_mask_logits(mask_feats)
        ]
        return sum(probs) / len(probs)


class ExportableFeatureMaps(nn.Module):
    """The detector without post-processing (``--skip-postprocess``): the
    per-level maps of its dense head (the RPN of a two-stage detector) on a
    (1, 3, H, W) image: class logits, box predictions and, for heads that
    have them, score factors (e.g. FCOS's centerness)."""

    GROUPS = ('cls_score', 'bbox_pred', 'score_factor')

    def __init__(self, model):
        super().__init__()
        self.model = model
        head = getattr(model, 'rpn_head', None)
        self.head = head or getattr(model, 'bbox_head', None)
        if not hasattr(self.head, 'prior_generator'):
            raise NotImplementedError(
                f'{type(model).__name__} has no dense box head (RPN or '
                'anchor / point head): --skip-postprocess exports only such '
                "a head's maps; export it without --skip-postprocess"
            )

    @property
    def output_names(self):
        levels = len(self.head.prior_generator.strides)
        groups = self.GROUPS[
            : 3 if hasattr(self.head, 'conv_centerness') else 2
        ]
        return [f'{g}_{i}' for g in groups for i in range(levels)]

    def forward(self, img):
        outs = self.head(self.model.extract_feat(img))
        return tuple(m for group in outs for m in group)
