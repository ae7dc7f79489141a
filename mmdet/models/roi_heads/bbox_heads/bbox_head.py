"""The R-CNN box head base: classify each RoI and regress its box."""

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.runner import BaseModule, auto_fp16, force_fp32
from torch.nn.modules.utils import _pair

from mmdet.core import build_bbox_coder, clip_bboxes, multiclass_nms
from mmdet.models.builder import HEADS, build_loss
from mmdet.models.losses import accuracy
from mmdet.models.utils import build_linear_layer


@HEADS.register_module()
class BBoxHead(BaseModule):
    """Simplest R-CNN box head: optional average pool, then one linear
    layer for class scores (``fc_cls``) and one for box deltas
    (``fc_reg``).

    Classes are ``0 .. num_classes - 1``; ``num_classes`` is background
    (the last of the ``num_classes + 1`` scores). Regression is per class
    (``4 * num_classes`` outputs) unless ``reg_class_agnostic``.

    Args:
        with_avg_pool (bool): average-pool the RoI features first.
        with_cls (bool): predict class scores.
        with_reg (bool): predict box deltas.
        roi_feat_size (int | tuple[int]): size of the RoI features.
        in_channels (int): channels of the RoI features.
        num_classes (int): object classes, background excluded.
        bbox_coder (dict): box coder config.
        reg_class_agnostic (bool): one box per RoI instead of per class.
        reg_decoded_bbox (bool): regress decoded boxes.
        reg_predictor_cfg, cls_predictor_cfg (dict): ``dict(type=
            'Linear')``.
        loss_cls (dict): classification loss config.
        loss_bbox (dict): regression loss config.
        init_cfg (dict | list[dict], optional): initialization config.
    """

    def __init__(
        self,
        with_avg_pool=False,
        with_cls=True,
        with_reg=True,
        roi_feat_size=7,
        in_channels=256,
        num_classes=80,
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            clip_border=True,
            target_means=[0.0, 0.0, 0.0, 0.0],
            target_stds=[0.1, 0.1, 0.2, 0.2],
        ),
        reg_class_agnostic=False,
        reg_decoded_bbox=False,
        reg_predictor_cfg=dict(type='Linear'),
        cls_predictor_cfg=dict(type='Linear'),
        loss_cls=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0
        ),
        loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0),
        init_cfg=None,
    ):
        super().__init__(init_cfg)
        assert with_cls or with_reg
        self.with_avg_pool = with_avg_pool
        self.with_cls = with_cls
        self.with_reg = with_reg
        self.roi_feat_size = _pair(roi_feat_size)
        self.roi_feat_area = self.roi_feat_size[0] * self.roi_feat_size[1]
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.reg_class_agnostic = reg_class_agnostic
        self.reg_decoded_bbox = reg_decoded_bbox
        self.reg_predictor_cfg = reg_predictor_cfg
        self.cls_predictor_cfg = cls_predictor_cfg
        self.fp16_enabled = False

        self.bbox_coder = build_bbox_coder(bbox_coder)
        self.loss_cls = build_loss(loss_cls)
        self.loss_bbox = build_loss(loss_bbox)

        in_features = in_channels
        if with_avg_pool:
            self.avg_pool = nn.AvgPool2d(self.roi_feat_size)
        else:
            in_features *= self.roi_feat_area
        if with_cls:
            self.fc_cls = build_linear_layer(
                cls_predictor_cfg, in_features, self.num_cls_channels
            )
        if with_reg:
            self.fc_reg = build_linear_layer(
                reg_predictor_cfg, in_features, self.num_reg_channels
            )
        self.debug_imgs = None
        if init_cfg is None:
            self.init_cfg = []
            if with_cls:
                self.init_cfg.append(
                    dict(type='Normal', std=0.01, override=dict(name='fc_cls'))
                )
            if with_reg:
                self.init_cfg.append(
                    dict(
                        type='Normal', std=0.001, override=dict(name='fc_reg')
                    )
                )

    @property
    def num_cls_channels(self):
        """Scores per RoI: the classes and background."""
        if self.custom_cls_channels:
            return self.loss_cls.get_cls_channels(self.num_classes)
        return self.num_classes + 1

    @property
    def num_reg_channels(self):
        """Deltas per RoI: 4, or 4 per class."""
        return 4 if self.reg_class_agnostic else 4 * self.num_classes

    @property
    def custom_cls_channels(self):
        return getattr(self.loss_cls, 'custom_cls_channels', False)

    @property
    def custom_activation(self):
        return getattr(self.loss_cls, 'custom_activation', False)

    @property
    def custom_accuracy(self):
        return getattr(self.loss_cls, 'custom_accuracy', False)

    @auto_fp16()
    def forward(self, x):
        """(K, C, h, w) RoI features -> (K, num_classes + 1) scores and
        (K, 4 * num_classes) deltas (None for a missing branch)."""
        if self.with_avg_pool:
            x = self.avg_pool(x)
        x = x.flatten(1)
        cls_score = self.fc_cls(x) if self.with_cls else None
        bbox_pred = self.fc_reg(x) if self.with_reg else None
        return cls_score, bbox_pred

    # ----------------------------------------------------------- targets
    def get_targets(
        self,
        sampling_results,
        gt_bboxes,
        gt_labels,
        rcnn_train_cfg,
        concat=True,
    ):
        """Classification and regression targets of the sampled RoIs.

        The RoIs of an image are its positives then its negatives (the
        order of ``bbox2roi([res.bboxes ...])``); positives get their gt
        label and encoded gt box, negatives the background label.

        Args:
            sampling_results (list[SamplingResult]): per image.
            gt_bboxes, gt_labels (list[Tensor]): per image (unused: the
                sampling results carry the matched gts).
            rcnn_train_cfg (dict): with ``pos_weight`` (<= 0 means 1).
            concat (bool): concatenate the images.

        Returns:
            tuple: labels (K,) long, label_weights (K,), bbox_targets
            (K, 4), bbox_weights (K, 4), concatenated over the images, or
            lists of per-image tensors if not ``concat``.
        """
        pos_counts = [res.pos_bboxes.size(0) for res in sampling_results]
        neg_counts = [res.neg_bboxes.size(0) for res in sampling_results]
        is_pos = torch.cat(
            [
                torch.arange(p + n, device=res.pos_bboxes.device) < p
                for p, n, res in zip(pos_counts, neg_counts, sampling_results)
            ]
        )
        pos_bboxes = torch.cat([res.pos_bboxes for res in sampling_results])
        pos_gt_bboxes = torch.cat(
            [res.pos_gt_bboxes for res in sampling_results]
        )
        pos_gt_labels = torch.cat(
            [res.pos_gt_labels for res in sampling_results]
        )

        num = is_pos.numel()
        labels = pos_bboxes.new_full(
            (num,), self.num_classes, dtype=torch.long
        )
        label_weights = pos_bboxes.new_ones(num)
        bbox_targets = pos_bboxes.new_zeros(num, 4)
        bbox_weights = pos_bboxes.new_zeros(num, 4)
        if pos_bboxes.size(0) > 0:
            labels[is_pos] = pos_gt_labels
            pos_weight = rcnn_train_cfg['pos_weight']
            label_weights[is_pos] = 1.0 if pos_weight <= 0 else pos_weight
            bbox_targets[is_pos] = (
                pos_gt_bboxes
                if self.reg_decoded_bbox
                else self.bbox_coder.encode(pos_bboxes, pos_gt_bboxes)
            )
            bbox_weights[is_pos] = 1.0
        targets = (labels, label_weights, bbox_targets, bbox_weights)
        if concat:
            return targets
        counts = [p + n for p, n in zip(pos_counts, neg_counts)]
        return tuple(list(t.split(counts)) for t in targets)

    # -------------------------------------------------------------- loss
    @force_fp32(apply_to=('cls_score', 'bbox_pred'))
    def loss(
        self,
        cls_score,
        bbox_pred,
        rois,
        labels,
        label_weights,
        bbox_targets,
        bbox_weights,
        reduction_override=None,
    ):
        """``loss_cls``, ``acc`` (percent) and ``loss_bbox`` of the RoIs.

        The classification loss averages over the RoIs with a positive
        weight; the box loss is over the positives with the class of their
        gt, averaged over all RoIs (MMDetection's normalisation).

        Args:
            cls_score (Tensor): (K, num_classes + 1).
            bbox_pred (Tensor): (K, 4 * num_classes) or (K, 4).
            rois (Tensor): (K, 5) for ``reg_decoded_bbox``.
            labels, label_weights, bbox_targets, bbox_weights: from
                :meth:`get_targets`.
            reduction_override (str, optional): passed to the losses.
        """
        losses = dict()
        if cls_score is not None and cls_score.numel() > 0:
            avg_factor = max(torch.sum(label_weights > 0).float().item(), 1.0)
            loss_cls = self.loss_cls(
                cls_score,
                labels,
                label_weights,
                avg_factor=avg_factor,
                reduction_override=reduction_override,
            )
            if isinstance(loss_cls, dict):
                losses.update(loss_cls)
            else:
                losses['loss_cls'] = loss_cls
            if self.custom_accuracy:
                losses.update(self.loss_cls.get_accuracy(cls_score, labels))
            else:
                losses['acc'] = accuracy(cls_score, labels)
        if bbox_pred is not None:
            pos = (labels >= 0) & (labels < self.num_classes)
            if pos.any():
                if self.reg_decoded_bbox:
                    bbox_pred = self.bbox_coder.decode(rois[:, 1:], bbox_pred)
                per_roi = bbox_pred.view(bbox_pred.size(0), -1, 4)
                if self.reg_class_agnostic:
                    pos_bbox_pred = per_roi[pos, 0]
                else:
                    pos_bbox_pred = per_roi[pos, labels[pos]]
                losses['loss_bbox'] = self.loss_bbox(
                    pos_bbox_pred,
                    bbox_targets[pos],
                    bbox_weights[pos],
                    avg_factor=bbox_targets.size(0),
                    reduction_override=reduction_override,
                )
            else:
                # zero, but connected to the graph
                losses['loss_bbox'] = bbox_pred[pos].sum()
        return losses

    # --------------------------------------------------------- inference
    @force_fp32(apply_to=('cls_score', 'bbox_pred'))
    def get_bboxes(
        self,
        rois,
        cls_score,
        bbox_pred,
        img_shape,
        scale_factor,
        rescale=False,
        cfg=None,
    ):
        """Detections of one image's RoIs.

        Softmax scores; each RoI decoded once per class and clipped to
        ``img_shape``; with ``rescale`` boxes divided by ``scale_factor``
        (original-image pixels); then ``multiclass_nms`` (``score_thr``,
        ``nms``, ``max_per_img`` of ``cfg``).

        Args:
            rois (Tensor): (K, 5) ``[batch_idx, x1, y1, x2, y2]``.
            cls_score (Tensor): (K, num_classes + 1).
            bbox_pred (Tensor | None): (K, 4 * num_classes) or (K, 4).
            img_shape (tuple): (h, w, c) of the network input.
            scale_factor (ndarray | Tensor): (4,) ``[w, h, w, h]`` scale.
            rescale (bool): map boxes to the original image.
            cfg (dict, optional): without it the decoded boxes (K, 4*C)
                and scores (K, C+1) are returned.

        Returns:
            tuple[Tensor, Tensor]: (n, 5) boxes with scores, (n,) labels.
        """
        if self.custom_cls_channels:
            scores = self.loss_cls.get_activation(cls_score)
        else:
            scores = (
                F.softmax(cls_score, dim=-1) if cls_score is not None else None
            )
        if bbox_pred is not None:
            bboxes = self.bbox_coder.decode(
                rois[:, 1:], bbox_pred, max_shape=img_shape
            )
        else:
            bboxes = rois[:, 1:].clone()
            if img_shape is not None:
                bboxes = clip_bboxes(bboxes, img_shape)
        if rescale and bboxes.size(0) > 0:
            scale = bboxes.new_tensor(scale_factor)
            bboxes = (bboxes.view(bboxes.size(0), -1, 4) / scale).view(
                bboxes.size(0), -1
            )
        if cfg is None:
            return bboxes, scores
        return multiclass_nms(
            bboxes, scores, cfg['score_thr'], cfg['nms'], cfg['max_per_img']
        )

    # ---------------------------------------------------------- cascade
    def regress_by_class(self, rois, label, bbox_pred, img_meta):
        """Decode each RoI with the deltas of class ``label``.

        Args:
            rois (Tensor): (K, 4) boxes or (K, 5) with batch index.
            label (Tensor): (K,) classes (background allowed).
            bbox_pred (Tensor): (K, 4 * num_classes) or (K, 4).
            img_meta (dict): with 'img_shape'.

        Returns:
            Tensor: the regressed RoIs, shaped like ``rois``.
        """
        assert rois.size(1) in (4, 5), f'bad rois shape {tuple(rois.shape)}'
        if not self.reg_class_agnostic:
            # background deltas do not exist: use class 0's (any works,
            # these boxes are not used by the caller)
            label = torch.where(
                label < self.num_classes, label, torch.zeros_like(label)
            )
            bbox_pred = bbox_pred.view(bbox_pred.size(0), -1, 4)[
                torch.arange(bbox_pred.size(0), device=label.device), label
            ]
        boxes = rois[:, -4:]
        new_boxes = self.bbox_coder.decode(
            boxes, bbox_pred, max_shape=img_meta['img_shape']
        )
        if rois.size(1) == 4:
            return new_boxes
        return torch.cat([rois[:, [0]], new_boxes], dim=1)

    def refine_bboxes(self, rois, labels, bbox_preds, pos_is_gts, img_metas):
        """Regressed RoIs for the next stage of a cascade, per image,
        without the gt boxes that the sampler added.

        Args:
            rois (Tensor): (K, 5) RoIs of the batch.
            labels (Tensor): (K,) target labels.
            bbox_preds (Tensor): (K, 4 * num_classes).
            pos_is_gts (list[Tensor]): per image, which positives are gts.
            img_metas (list[dict]): per image meta.

        Returns:
            list[Tensor]: per image the refined (n, 4) boxes.
        """
        img_ids = rois[:, 0].long()
        refined = []
        for i, meta in enumerate(img_metas):
            inds = torch.nonzero(img_ids == i, as_tuple=True)[0]
            boxes = self.regress_by_class(
                rois[inds, 1:], labels[inds], bbox_preds[inds], meta
            )
            keep = torch.ones(len(inds), dtype=torch.bool, device=boxes.device)
            is_gt = pos_is_gts[i].bool()
            keep[: len(is_gt)] = ~is_gt
            refined.append(boxes[keep])
        return refined
