"""SABL RetinaNet head: RetinaNet's classification, boxes found side by
side with bucketing (``BucketingBBoxCoder``) on one square per position."""

import math

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmcv.runner import force_fp32

from mmdet.core import (
    build_assigner,
    build_bbox_coder,
    build_prior_generator,
    build_sampler,
    filter_scores_and_topk,
    images_to_levels,
    unmap,
)
from mmdet.utils.arg_errors import check_arg
from ..builder import HEADS, build_loss
from .anchor_head import TEST_CFG_KEYS, TRAIN_CFG_KEYS
from .base_dense_head import BaseDenseHead
from .cfg_check import check_cfg_keys
from .guided_anchor_head import GuidedAnchorHead


@HEADS.register_module()
class SABLRetinaHead(BaseDenseHead):
    """RetinaNet towers (``cls_convs``, ``reg_convs``), class scores
    (``retina_cls``) and per side bucket logits (``retina_bbox_cls``) and
    offsets (``retina_bbox_reg``), each (B, 4 * S, H, W), S =
    ceil(num_buckets / 2). Squares are assigned to gts through their
    approximating anchors (``ApproxMaxIoUAssigner``).

    Args:
        num_classes (int): object classes, background excluded.
        in_channels (int): input channels.
        stacked_convs (int): convs per tower.
        feat_channels (int): tower channels.
        approx_anchor_generator, square_anchor_generator (dict): as in
            :class:`GuidedAnchorHead`.
        conv_cfg, norm_cfg (dict, optional): of the tower convs.
        bbox_coder (dict): a ``BucketingBBoxCoder``.
        reg_decoded_bbox (bool): MMDetection's argument, not used.
        loss_cls, loss_bbox_cls, loss_bbox_reg (dict): the losses.
    """

    def __init__(
        self,
        num_classes,
        in_channels,
        stacked_convs=4,
        feat_channels=256,
        approx_anchor_generator=dict(
            type='AnchorGenerator',
            octave_base_scale=4,
            scales_per_octave=3,
            ratios=[0.5, 1.0, 2.0],
            strides=[8, 16, 32, 64, 128],
        ),
        square_anchor_generator=dict(
            type='AnchorGenerator',
            ratios=[1.0],
            scales=[4],
            strides=[8, 16, 32, 64, 128],
        ),
        conv_cfg=None,
        norm_cfg=None,
        bbox_coder=dict(
            type='BucketingBBoxCoder', num_buckets=14, scale_factor=3.0
        ),
        reg_decoded_bbox=False,
        train_cfg=None,
        test_cfg=None,
        loss_cls=dict(
            type='FocalLoss',
            use_sigmoid=True,
            gamma=2.0,
            alpha=0.25,
            loss_weight=1.0,
        ),
        loss_bbox_cls=dict(
            type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.5
        ),
        loss_bbox_reg=dict(
            type='SmoothL1Loss', beta=1.0 / 9.0, loss_weight=1.5
        ),
        init_cfg=dict(
            type='Normal',
            layer='Conv2d',
            std=0.01,
            override=dict(
                type='Normal', name='retina_cls', std=0.01, bias_prob=0.01
            ),
        ),
    ):
        super().__init__(init_cfg)
        name = type(self).__name__
        check_cfg_keys(train_cfg, TRAIN_CFG_KEYS, f'{name} train_cfg')
        check_cfg_keys(test_cfg, TEST_CFG_KEYS, f'{name} test_cfg')
        check_arg(
            approx_anchor_generator['octave_base_scale']
            == square_anchor_generator['scales'][0]
            and list(approx_anchor_generator['strides'])
            == list(square_anchor_generator['strides']),
            name,
            'the approx and square generators need the same base scale '
            'and strides',
        )
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.feat_channels = feat_channels
        self.num_buckets = bbox_coder['num_buckets']
        self.side_num = math.ceil(self.num_buckets / 2)
        self.approx_anchor_generator = build_prior_generator(
            approx_anchor_generator
        )
        self.square_anchor_generator = build_prior_generator(
            square_anchor_generator
        )
        self.approxs_per_octave = self.approx_anchor_generator.num_base_priors[
            0
        ]
        self.num_base_priors = self.square_anchor_generator.num_base_priors[0]
        self.stacked_convs = stacked_convs
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.reg_decoded_bbox = reg_decoded_bbox
        self.use_sigmoid_cls = loss_cls.get('use_sigmoid', False)
        self.sampling = loss_cls['type'] not in [
            'FocalLoss',
            'GHMC',
            'QualityFocalLoss',
        ]
        self.cls_out_channels = num_classes + (not self.use_sigmoid_cls)
        self.bbox_coder = build_bbox_coder(bbox_coder)
        self.loss_cls = build_loss(loss_cls)
        self.loss_bbox_cls = build_loss(loss_bbox_cls)
        self.loss_bbox_reg = build_loss(loss_bbox_reg)
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        if train_cfg:
            self.assigner = build_assigner(train_cfg['assigner'])
            sampler_cfg = train_cfg.get('sampler') if self.sampling else None
            self.sampler = build_sampler(
                sampler_cfg or dict(type='PseudoSampler'), context=self
            )
        self.fp16_enabled = False
        self._init_layers()

    @property
    def prior_generator(self):
        """The squares' generator (one prior per position)."""
        return self.square_anchor_generator

    def _tower(self):
        return nn.ModuleList(
            [
                ConvModule(
                    self.in_channels if i == 0 else self.feat_channels,
                    self.feat_channels,
                    3,
                    stride=1,
                    padding=1,
                    conv_cfg=self.conv_cfg,
                    norm_cfg=self.norm_cfg,
                )
                for i in range(self.stacked_convs)
            ]
        )

    def _init_layers(self):
        self.relu = nn.ReLU(inplace=True)
        self.cls_convs = self._tower()
        self.reg_convs = self._tower()
        c, sides = self.feat_channels, self.side_num * 4
        self.retina_cls = nn.Conv2d(c, self.cls_out_channels, 3, padding=1)
        self.retina_bbox_reg = nn.Conv2d(c, sides, 3, padding=1)
        self.retina_bbox_cls = nn.Conv2d(c, sides, 3, padding=1)

    def forward_single(self, x):
        """One level (B, C, H, W) -> class scores (B, cls_out, H, W) and
        the pair (bucket logits, offsets), each (B, 4 * S, H, W)."""
        cls_feat, reg_feat = x, x
        for conv in self.cls_convs:
            cls_feat = conv(cls_feat)
        for conv in self.reg_convs:
            reg_feat = conv(reg_feat)
        bbox_pred = (
            self.retina_bbox_cls(reg_feat),
            self.retina_bbox_reg(reg_feat),
        )
        return self.retina_cls(cls_feat), bbox_pred

    def forward(self, feats):
        outs = [self.forward_single(x) for x in feats]
        return tuple(map(list, zip(*outs)))

    def get_anchors(self, featmap_sizes, img_metas, device='cuda'):
        """Per image the per-level (H*W, 4) squares."""
        squares = self.square_anchor_generator.grid_priors(
            featmap_sizes, device=device
        )
        return [squares for _ in img_metas]

    # ----------------------------------------------------------- targets
    def _get_target_single(
        self,
        flat_approxs,
        inside_flags,
        flat_squares,
        gt_bboxes,
        gt_bboxes_ignore,
        gt_labels,
        img_meta,
    ):
        """Targets of one image's squares (levels concatenated): labels,
        label weights (N,), bucket labels / weights and offsets / weights
        (N, 4 * S), then pos_inds and neg_inds; None if none is inside."""
        if not inside_flags.any():
            return (None,) * 8
        squares = flat_squares[inside_flags]
        assign_result = self.assigner.assign(
            flat_approxs[
                inside_flags.repeat_interleave(self.approxs_per_octave)
            ],
            squares,
            self.approxs_per_octave,
            gt_bboxes,
            gt_bboxes_ignore,
        )
        result = self.sampler.sample(assign_result, squares, gt_bboxes)
        num = squares.size(0)
        labels = squares.new_full((num,), self.num_classes, dtype=torch.long)
        label_weights = squares.new_zeros(num)
        buckets = [squares.new_zeros(num, self.side_num * 4) for _ in range(4)]
        pos_inds, neg_inds = result.pos_inds, result.neg_inds
        if len(pos_inds) > 0:
            encoded = self.bbox_coder.encode(
                result.pos_bboxes, result.pos_gt_bboxes
            )
            for target, value in zip(buckets, encoded):
                target[pos_inds] = value
            labels[pos_inds] = (
                0
                if gt_labels is None
                else gt_labels[result.pos_assigned_gt_inds]
            )
            pos_weight = self.train_cfg['pos_weight']
            label_weights[pos_inds] = 1.0 if pos_weight <= 0 else pos_weight
        if len(neg_inds) > 0:
            label_weights[neg_inds] = 1.0
        total = flat_squares.size(0)
        labels = unmap(labels, total, inside_flags, fill=self.num_classes)
        reg_t, reg_w, cls_t, cls_w = (
            unmap(t, total, inside_flags) for t in buckets
        )
        label_weights = unmap(label_weights, total, inside_flags)
        return (
            labels,
            label_weights,
            cls_t,
            cls_w,
            reg_t,
            reg_w,
            pos_inds,
            neg_inds,
        )

    def get_target(
        self,
        approx_list,
        inside_flag_list,
        square_list,
        gt_bboxes_list,
        img_metas,
        gt_bboxes_ignore_list=None,
        gt_labels_list=None,
        label_channels=None,
        sampling=True,
        unmap_outputs=True,
    ):
        """Per level (B, N_l[, 4 * S]) labels, label weights, bucket labels,
        bucket weights, offsets, offset weights; then num_total_pos and
        num_total_neg. None if an image has no square inside."""
        num_imgs = len(img_metas)
        ignores = gt_bboxes_ignore_list or [None] * num_imgs
        labels = gt_labels_list or [None] * num_imgs
        per_image = [
            self._get_target_single(
                torch.cat(approx_list[i]),
                torch.cat(inside_flag_list[i]),
                torch.cat(square_list[i]),
                gt_bboxes_list[i],
                ignores[i],
                labels[i],
                img_metas[i],
            )
            for i in range(num_imgs)
        ]
        if any(res[0] is None for res in per_image):
            return None
        parts = list(zip(*per_image))
        num_level = [s.size(0) for s in square_list[0]]
        levels = tuple(images_to_levels(list(t), num_level) for t in parts[:6])
        num_pos = sum(max(inds.numel(), 1) for inds in parts[6])
        num_neg = sum(max(inds.numel(), 1) for inds in parts[7])
        return levels + (num_pos, num_neg)

    # -------------------------------------------------------------- loss
    def loss_single(
        self,
        cls_score,
        bbox_pred,
        labels,
        label_weights,
        bbox_cls_targets,
        bbox_cls_weights,
        bbox_reg_targets,
        bbox_reg_weights,
        num_total_samples,
    ):
        """One level's classification, bucket and offset losses."""
        sides = self.side_num * 4
        loss_cls = self.loss_cls(
            cls_score.permute(0, 2, 3, 1).reshape(-1, self.cls_out_channels),
            labels.reshape(-1),
            label_weights.reshape(-1),
            avg_factor=num_total_samples,
        )
        cls_pred, reg_pred = (
            p.permute(0, 2, 3, 1).reshape(-1, sides) for p in bbox_pred
        )
        loss_bbox_cls = self.loss_bbox_cls(
            cls_pred,
            bbox_cls_targets.reshape(-1, sides).long(),
            bbox_cls_weights.reshape(-1, sides),
            avg_factor=num_total_samples * sides,
        )
        loss_bbox_reg = self.loss_bbox_reg(
            reg_pred,
            bbox_reg_targets.reshape(-1, sides),
            bbox_reg_weights.reshape(-1, sides),
            avg_factor=num_total_samples * 4 * self.bbox_coder.offset_topk,
        )
        return loss_cls, loss_bbox_cls, loss_bbox_reg

    @force_fp32(apply_to=('cls_scores', 'bbox_preds'))
    def loss(
        self,
        cls_scores,
        bbox_preds,
        gt_bboxes,
        gt_labels,
        img_metas,
        gt_bboxes_ignore=None,
    ):
        """``loss_cls``, ``loss_bbox_cls``, ``loss_bbox_reg``, one scalar per
        level each; None if an image has no usable square."""
        featmap_sizes = [score.shape[-2:] for score in cls_scores]
        device = cls_scores[0].device
        approxs, inside_flags = GuidedAnchorHead.get_sampled_approxs(
            self, featmap_sizes, img_metas, device=device
        )
        squares = self.get_anchors(featmap_sizes, img_metas, device=device)
        targets = self.get_target(
            approxs,
            inside_flags,
            squares,
            gt_bboxes,
            img_metas,
            gt_bboxes_ignore_list=gt_bboxes_ignore,
            gt_labels_list=gt_labels,
        )
        if targets is None:
            return None
        num_pos, num_neg = targets[6:]
        avg_factor = num_pos + num_neg if self.sampling else num_pos
        per_level = [
            self.loss_single(*args, avg_factor)
            for args in zip(cls_scores, bbox_preds, *targets[:6])
        ]
        losses_cls, losses_bbox_cls, losses_bbox_reg = zip(*per_level)
        return dict(
            loss_cls=list(losses_cls),
            loss_bbox_cls=list(losses_bbox_cls),
            loss_bbox_reg=list(losses_bbox_reg),
        )

    # ------------------------------------------------------------ test
    @force_fp32(apply_to=('cls_scores', 'bbox_preds'))
    def get_bboxes(
        self,
        cls_scores,
        bbox_preds,
        img_metas,
        cfg=None,
        rescale=False,
        with_nms=True,
    ):
        """Detections per image, ``(dets (n, 5), labels (n,))``, through
        the shared :meth:`BaseDenseHead.get_bboxes` (the pair of each level
        travels as one (B, 8 * S, H, W) map)."""
        packed = [torch.cat(pair, dim=1) for pair in bbox_preds]
        return super().get_bboxes(
            cls_scores,
            packed,
            None,
            img_metas=img_metas,
            cfg=cfg,
            rescale=rescale,
            with_nms=with_nms,
        )

    def _get_bboxes_single(
        self,
        cls_score_list,
        bbox_pred_list,
        score_factor_list,
        mlvl_priors,
        img_meta,
        cfg,
        rescale=False,
        with_nms=True,
        **kwargs,
    ):
        """Per level the ``nms_pre`` best (square, class) pairs above
        ``score_thr``, decoded by bucketing; the localisation confidence
        is the score factor of the shared NMS step."""
        cfg = self.test_cfg if cfg is None else cfg
        nms_pre = cfg.get('nms_pre', -1)
        sides = self.side_num * 4
        boxes, scores, labels, confids = [], [], [], []
        for cls_score, packed, squares in zip(
            cls_score_list, bbox_pred_list, mlvl_priors
        ):
            level_scores = self._class_scores(
                cls_score.permute(1, 2, 0).reshape(-1, self.cls_out_channels)
            )
            packed = packed.permute(1, 2, 0).reshape(-1, 2 * sides)
            level_scores, level_labels, _, kept = filter_scores_and_topk(
                level_scores,
                cfg['score_thr'],
                nms_pre if nms_pre > 0 else level_scores.numel(),
                dict(squares=squares, packed=packed),
            )
            pair = kept['packed'].split(sides, dim=1)
            level_boxes, level_confids = self.bbox_coder.decode(
                kept['squares'], pair, max_shape=img_meta['img_shape']
            )
            boxes.append(level_boxes)
            scores.append(level_scores)
            labels.append(level_labels)
            confids.append(level_confids)
        return self._bbox_post_process(
            torch.cat(scores),
            torch.cat(labels),
            torch.cat(boxes),
            img_meta['scale_factor'],
            cfg,
            rescale,
            with_nms,
            torch.cat(confids),
        )
