"""A dense head that classifies and regresses a set of anchors at every
position of every feature level."""

import warnings

import torch
import torch.nn as nn
from mmcv.runner import force_fp32

from mmdet.core import (
    anchor_inside_flags,
    build_assigner,
    build_bbox_coder,
    build_prior_generator,
    build_sampler,
    images_to_levels,
    unmap,
)
from ..builder import HEADS, build_loss
from .base_dense_head import BaseDenseHead, flatten_level_maps
from .cfg_check import check_cfg_keys

TRAIN_CFG_KEYS = (
    'assigner',
    'sampler',
    'allowed_border',
    'pos_weight',
    'debug',
)
TEST_CFG_KEYS = (
    'nms_pre',
    'min_bbox_size',
    'score_thr',
    'nms',
    'max_per_img',
    'max_num',
    'nms_thr',
    'nms_post',
    'nms_across_levels',
)


FOCAL_LIKE_LOSSES = ('FocalLoss', 'GHMC', 'QualityFocalLoss')


def uses_sampling(train_cfg, loss_cls):
    """MMDetection 2.28's rule: a head samples (and averages its losses
    over positives and negatives) when ``train_cfg`` names a sampler other
    than ``PseudoSampler`` and the classification loss is not a focal-like
    one (with those, a configured sampler is replaced by
    ``PseudoSampler`` and the losses are averaged over the positives)."""
    sampler = (train_cfg or {}).get('sampler')
    if sampler is None or sampler['type'].split('.')[-1] == 'PseudoSampler':
        return False
    if loss_cls['type'] in FOCAL_LIKE_LOSSES:
        warnings.warn(
            f'a sampler with {loss_cls["type"]} is ignored: delete it from '
            'the config (PseudoSampler is used)'
        )
        return False
    return True


@HEADS.register_module()
class AnchorHead(BaseDenseHead):
    """Anchor-based head: a 1x1 classification conv and a 1x1 box conv.

    Args:
        num_classes (int): object classes, background excluded.
        in_channels (int): channels of the input feature maps.
        feat_channels (int): channels of the hidden convs (subclasses).
        anchor_generator (dict): config of the anchor generator.
        bbox_coder (dict): config of the box coder.
        reg_decoded_bbox (bool): regress decoded boxes (for IoU losses)
            instead of deltas.
        loss_cls (dict): classification loss; ``use_sigmoid=True`` gives
            ``num_classes`` outputs per anchor, softmax ``num_classes + 1``.
        loss_bbox (dict): box regression loss.
        train_cfg (dict, optional): ``assigner``, ``sampler``,
            ``allowed_border``, ``pos_weight``, ``debug``.
        test_cfg (dict, optional): ``nms_pre``, ``min_bbox_size``,
            ``score_thr``, ``nms``, ``max_per_img``.
        init_cfg (dict | list[dict]): initialization config.
    """

    train_cfg_keys = TRAIN_CFG_KEYS
    test_cfg_keys = TEST_CFG_KEYS

    def __init__(
        self,
        num_classes,
        in_channels,
        feat_channels=256,
        anchor_generator=dict(
            type='AnchorGenerator',
            scales=[8, 16, 32],
            ratios=[0.5, 1.0, 2.0],
            strides=[4, 8, 16, 32, 64],
        ),
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            clip_border=True,
            target_means=(0.0, 0.0, 0.0, 0.0),
            target_stds=(1.0, 1.0, 1.0, 1.0),
        ),
        reg_decoded_bbox=False,
        loss_cls=dict(
            type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0
        ),
        loss_bbox=dict(type='SmoothL1Loss', beta=1.0 / 9.0, loss_weight=1.0),
        train_cfg=None,
        test_cfg=None,
        init_cfg=dict(type='Normal', layer='Conv2d', std=0.01),
    ):
        super().__init__(init_cfg)
        check_cfg_keys(
            train_cfg, self.train_cfg_keys, f'{type(self).__name__} train_cfg'
        )
        check_cfg_keys(
            test_cfg, self.test_cfg_keys, f'{type(self).__name__} test_cfg'
        )
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.feat_channels = feat_channels
        self.use_sigmoid_cls = loss_cls.get('use_sigmoid', False)
        self.cls_out_channels = (
            num_classes if self.use_sigmoid_cls else num_classes + 1
        )
        if self.cls_out_channels <= 0:
            raise ValueError(f'num_classes={num_classes} is too small')
        self.reg_decoded_bbox = reg_decoded_bbox

        self.bbox_coder = build_bbox_coder(bbox_coder)
        self.loss_cls = build_loss(loss_cls)
        self.loss_bbox = build_loss(loss_bbox)
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        self.sampling = uses_sampling(train_cfg, loss_cls)
        if train_cfg:
            self.assigner = build_assigner(train_cfg['assigner'])
            sampler_cfg = (
                train_cfg['sampler']
                if self.sampling
                else dict(type='PseudoSampler')
            )
            self.sampler = build_sampler(sampler_cfg, context=self)
        self.fp16_enabled = False

        self.prior_generator = build_prior_generator(anchor_generator)
        # every level has the same number of anchors per position
        self.num_base_priors = self.prior_generator.num_base_priors[0]
        self._init_layers()

    @property
    def num_anchors(self):
        warnings.warn('num_anchors is deprecated, use num_base_priors')
        return self.num_base_priors

    @property
    def anchor_generator(self):
        warnings.warn('anchor_generator is deprecated, use prior_generator')
        return self.prior_generator

    def _init_layers(self):
        self.conv_cls = nn.Conv2d(
            self.in_channels, self.num_base_priors * self.cls_out_channels, 1
        )
        self.conv_reg = nn.Conv2d(
            self.in_channels, self.num_base_priors * 4, 1
        )

    def forward_single(self, x):
        """One level (B, C, H, W) -> class scores (B, A*cls_out, H, W) and
        box deltas (B, A*4, H, W)."""
        return self.conv_cls(x), self.conv_reg(x)

    def forward(self, feats):
        """Per-level ``(cls_scores, bbox_preds)``, two lists of maps."""
        outs = [self.forward_single(x) for x in feats]
        return tuple(map(list, zip(*outs)))

    # ----------------------------------------------------------- anchors
    def get_anchors(self, featmap_sizes, img_metas, device='cuda'):
        """Anchors and their validity for every image.

        Returns:
            tuple[list[list[Tensor]]]: ``anchor_list[i][l]`` (N_l, 4) and
            ``valid_flag_list[i][l]`` (N_l,) bool for image i and level l;
            an anchor is valid if its centre cell lies in the un-padded
            part of the feature map.
        """
        mlvl_anchors = self.prior_generator.grid_priors(
            featmap_sizes, device=device
        )
        anchor_list = [mlvl_anchors for _ in img_metas]
        valid_flag_list = [
            self.prior_generator.valid_flags(
                featmap_sizes, meta['pad_shape'], device
            )
            for meta in img_metas
        ]
        return anchor_list, valid_flag_list

    # ----------------------------------------------------------- targets
    def _get_targets_single(
        self,
        flat_anchors,
        valid_flags,
        gt_bboxes,
        gt_bboxes_ignore,
        gt_labels,
        img_meta,
        unmap_outputs=True,
    ):
        """Targets of one image's anchors (all levels concatenated).

        Anchors reaching further than ``allowed_border`` outside the image
        (or invalid) are left out: label background, weight 0.

        Returns:
            tuple: labels (N,) long, label_weights (N,), bbox_targets
            (N, 4), bbox_weights (N, 4), pos_inds, neg_inds and the
            sampling result; None in each place if no anchor is inside.
        """
        inside_flags = anchor_inside_flags(
            flat_anchors,
            valid_flags,
            img_meta['img_shape'][:2],
            self.train_cfg['allowed_border'],
        )
        if not inside_flags.any():
            return (None,) * 7
        anchors = flat_anchors[inside_flags]
        assign_result = self.assigner.assign(
            anchors, gt_bboxes, gt_bboxes_ignore
        )
        sampling_result = self.sampler.sample(
            assign_result, anchors, gt_bboxes
        )

        labels, label_weights, bbox_targets, bbox_weights = (
            self._sampled_targets(anchors, sampling_result, gt_labels)
        )
        pos_inds = sampling_result.pos_inds
        neg_inds = sampling_result.neg_inds

        if unmap_outputs:
            total = flat_anchors.size(0)
            labels = unmap(labels, total, inside_flags, fill=self.num_classes)
            label_weights = unmap(label_weights, total, inside_flags)
            bbox_targets = unmap(bbox_targets, total, inside_flags)
            bbox_weights = unmap(bbox_weights, total, inside_flags)
        return (
            labels,
            label_weights,
            bbox_targets,
            bbox_weights,
            pos_inds,
            neg_inds,
            sampling_result,
        )

    def _sampled_targets(self, anchors, sampling_result, gt_labels):
        """Targets of the (inside) ``anchors`` (N, 4) from their sampling
        result: labels (N,) long (``num_classes`` = background, 0 for the
        RPN when ``gt_labels`` is None), label weights (N,) (1, or
        ``pos_weight`` for positives; 0 for unsampled anchors), box targets
        (N, 4) (encoded deltas, or the boxes with ``reg_decoded_bbox``) and
        box weights (N, 4) (1 on positives)."""
        num_valid = anchors.size(0)
        labels = anchors.new_full(
            (num_valid,), self.num_classes, dtype=torch.long
        )
        label_weights = anchors.new_zeros(num_valid, dtype=torch.float)
        bbox_targets = torch.zeros_like(anchors)
        bbox_weights = torch.zeros_like(anchors)
        pos_inds = sampling_result.pos_inds
        neg_inds = sampling_result.neg_inds
        if len(pos_inds) > 0:
            pos_bbox_targets = self._pos_bbox_targets(sampling_result)
            bbox_targets[pos_inds] = pos_bbox_targets.to(bbox_targets.dtype)
            bbox_weights[pos_inds] = 1.0
            if gt_labels is None:
                labels[pos_inds] = 0  # RPN: foreground is class 0
            else:
                labels[pos_inds] = gt_labels[
                    sampling_result.pos_assigned_gt_inds
                ]
            pos_weight = self.train_cfg['pos_weight']
            label_weights[pos_inds] = 1.0 if pos_weight <= 0 else pos_weight
        if len(neg_inds) > 0:
            label_weights[neg_inds] = 1.0
        return labels, label_weights, bbox_targets, bbox_weights

    def _pos_bbox_targets(self, sampling_result):
        """(n, 4) box targets of the positives: their gt boxes with
        ``reg_decoded_bbox``, else the deltas encoded from their anchors."""
        if self.reg_decoded_bbox:
            return sampling_result.pos_gt_bboxes
        return self.bbox_coder.encode(
            sampling_result.pos_bboxes, sampling_result.pos_gt_bboxes
        )

    def _get_targets_batch(
        self,
        anchor_list,
        valid_flag_list,
        gt_bboxes_list,
        img_metas,
        gt_bboxes_ignore_list,
        gt_labels_list,
    ):
        """Targets of every image, stacked: labels (B, N), label_weights
        (B, N), bbox_targets (B, N, 4), bbox_weights (B, N, 4), with the
        levels concatenated, plus num_total_pos, num_total_neg and the
        sampling results; None if an image has no usable anchor."""
        num_imgs = len(img_metas)
        if gt_bboxes_ignore_list is None:
            gt_bboxes_ignore_list = [None] * num_imgs
        if gt_labels_list is None:
            gt_labels_list = [None] * num_imgs
        per_image = [
            self._get_targets_single(
                torch.cat(anchor_list[i]),
                torch.cat(valid_flag_list[i]),
                gt_bboxes_list[i],
                gt_bboxes_ignore_list[i],
                gt_labels_list[i],
                img_metas[i],
            )
            for i in range(num_imgs)
        ]
        if any(res[0] is None for res in per_image):
            return None
        (
            labels,
            label_weights,
            bbox_targets,
            bbox_weights,
            pos_inds,
            neg_inds,
            sampling_results,
        ) = zip(*per_image)
        # an image without samples still counts once, as MMDetection does
        num_total_pos = sum(max(inds.numel(), 1) for inds in pos_inds)
        num_total_neg = sum(max(inds.numel(), 1) for inds in neg_inds)
        return (
            torch.stack(labels),
            torch.stack(label_weights),
            torch.stack(bbox_targets),
            torch.stack(bbox_weights),
            num_total_pos,
            num_total_neg,
            list(sampling_results),
        )

    def get_targets(
        self,
        anchor_list,
        valid_flag_list,
        gt_bboxes_list,
        img_metas,
        gt_bboxes_ignore_list=None,
        gt_labels_list=None,
        label_channels=1,
        unmap_outputs=True,
        return_sampling_results=False,
    ):
        """Classification and regression targets of every anchor.

        Args:
            anchor_list (list[list[Tensor]]): ``[image][level]`` (N_l, 4).
            valid_flag_list (list[list[Tensor]]): ``[image][level]`` (N_l,).
            gt_bboxes_list (list[Tensor]): per image (k, 4).
            img_metas (list[dict]): per image meta.
            gt_bboxes_ignore_list (list[Tensor], optional): ignored boxes.
            gt_labels_list (list[Tensor], optional): per image (k,) labels.
            label_channels (int): MMDetection's argument, not used (labels
                are class indices whatever the classifier's channels).
            unmap_outputs (bool): must be True (targets for all anchors).
            return_sampling_results (bool): also return them.

        Returns:
            tuple: per level lists (each tensor (B, N_l[, 4])) of labels,
            label_weights, bbox_targets, bbox_weights; then num_total_pos
            and num_total_neg (and the sampling results if asked). None if
            an image has no anchor inside it.
        """
        assert unmap_outputs, 'only targets for all anchors are supported'
        batch = self._get_targets_batch(
            anchor_list,
            valid_flag_list,
            gt_bboxes_list,
            img_metas,
            gt_bboxes_ignore_list,
            gt_labels_list,
        )
        if batch is None:
            return None
        num_level_anchors = [a.size(0) for a in anchor_list[0]]
        level_lists = tuple(
            images_to_levels(list(t), num_level_anchors) for t in batch[:4]
        )
        res = level_lists + batch[4:6]
        if return_sampling_results:
            res = res + (batch[6],)
        return res

    # -------------------------------------------------------------- loss
    def loss_single(
        self,
        cls_score,
        bbox_pred,
        anchors,
        labels,
        label_weights,
        bbox_targets,
        bbox_weights,
        num_total_samples,
    ):
        """Losses of a set of anchors, all inputs flattened.

        Args:
            cls_score (Tensor): (N, cls_out_channels) logits.
            bbox_pred (Tensor): (N, 4) deltas.
            anchors (Tensor): (N, 4), used with ``reg_decoded_bbox``.
            labels, label_weights (Tensor): (N,).
            bbox_targets, bbox_weights (Tensor): (N, 4).
            num_total_samples (int): the loss average factor.

        Returns:
            tuple[Tensor]: classification and regression loss.
        """
        loss_cls = self.loss_cls(
            cls_score, labels, label_weights, avg_factor=num_total_samples
        )
        if self.reg_decoded_bbox:
            bbox_pred = self.bbox_coder.decode(anchors, bbox_pred)
        loss_bbox = self.loss_bbox(
            bbox_pred, bbox_targets, bbox_weights, avg_factor=num_total_samples
        )
        return loss_cls, loss_bbox

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
        """Classification and box losses of all levels and images.

        Args:
            cls_scores (list[Tensor]): per level (B, A*cls_out, H, W).
            bbox_preds (list[Tensor]): per level (B, A*4, H, W).
            gt_bboxes (list[Tensor]): per image (k, 4).
            gt_labels (list[Tensor] | None): per image (k,).
            img_metas (list[dict]): per image meta.
            gt_bboxes_ignore (list[Tensor], optional): ignored boxes.

        Returns:
            dict[str, list[Tensor]]: ``loss_cls`` and ``loss_bbox``, one
            scalar per level, each averaged over the sampled anchors of the
            whole batch (so their sum is the loss over all anchors; the
            logged values are these sums).
        """
        featmap_sizes = [score.shape[-2:] for score in cls_scores]
        assert len(featmap_sizes) == self.prior_generator.num_levels
        device = cls_scores[0].device
        anchor_list, valid_flag_list = self.get_anchors(
            featmap_sizes, img_metas, device=device
        )
        batch = self._get_targets_batch(
            anchor_list,
            valid_flag_list,
            gt_bboxes,
            img_metas,
            gt_bboxes_ignore,
            gt_labels,
        )
        if batch is None:
            return None
        (
            labels,
            label_weights,
            bbox_targets,
            bbox_weights,
            num_pos,
            num_neg,
            _,
        ) = batch
        num_total_samples = num_pos + num_neg if self.sampling else num_pos

        num_level_anchors = [a.size(0) for a in anchor_list[0]]
        anchors = torch.stack([torch.cat(a) for a in anchor_list])
        cls_score = flatten_level_maps(cls_scores, self.cls_out_channels)
        bbox_pred = flatten_level_maps(bbox_preds, 4)
        # (B, N, ...) tensors -> per level (B, N_l, ...), as MMDetection
        # returns one loss per level (their sum is the loss over all
        # anchors: each is normalised by the same num_total_samples)
        levels = zip(
            *(
                t.split(num_level_anchors, dim=1)
                for t in (
                    cls_score,
                    bbox_pred,
                    anchors,
                    labels,
                    label_weights,
                    bbox_targets,
                    bbox_weights,
                )
            )
        )
        losses_cls, losses_bbox = [], []
        for score, pred, anchor, label, label_w, target, target_w in levels:
            loss_cls, loss_bbox = self.loss_single(
                score.reshape(-1, self.cls_out_channels),
                pred.reshape(-1, 4),
                anchor.reshape(-1, 4),
                label.reshape(-1),
                label_w.reshape(-1),
                target.reshape(-1, 4),
                target_w.reshape(-1, 4),
                num_total_samples,
            )
            losses_cls.append(loss_cls)
            losses_bbox.append(loss_bbox)
        return dict(loss_cls=losses_cls, loss_bbox=losses_bbox)


@HEADS.register_module()
class AscendAnchorHead(AnchorHead):
    """MMDetection's name for :class:`AnchorHead` on Ascend NPUs (there a
    batched target computation; the same layers, losses and outputs)."""
