"""Guided anchoring (Wang et al., 2019): one anchor per position whose
shape is predicted, kept only where an object centre is likely.

Three kinds of boxes: *approxs* (the ``approx_anchor_generator``'s anchors,
several per position, used only to assign gts to positions), *squares*
(one square per position, the base of the guided anchor) and the *guided
anchors* (squares with predicted width and height).
"""

import torch
import torch.nn as nn
from mmcv.runner import BaseModule, force_fp32

from mmdet.core import (
    anchor_inside_flags,
    build_assigner,
    build_bbox_coder,
    build_prior_generator,
    build_sampler,
    calc_region,
    images_to_levels,
    unmap,
)
from mmdet.utils.arg_errors import check_arg
from ..builder import HEADS, build_loss
from ..utils.deform_conv import DeformConv2d
from ..utils.masked_conv import MaskedConv2d
from .anchor_head import TRAIN_CFG_KEYS, AnchorHead
from .base_dense_head import BaseDenseHead
from .cfg_check import check_cfg_keys

GA_TRAIN_CFG_KEYS = TRAIN_CFG_KEYS + (
    'ga_assigner',
    'ga_sampler',
    'center_ratio',
    'ignore_ratio',
)


class FeatureAdaption(BaseModule):
    """A 3x3 deformable conv + ReLU whose offsets come from the predicted
    anchor shape (a 1x1 conv on the detached (dw, dh) map).

    ``forward(x, shape)``: x (B, C_in, H, W), shape (B, 2, H, W) ->
    (B, C_out, H, W).
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size=3,
        deform_groups=4,
        init_cfg=dict(
            type='Normal',
            layer='Conv2d',
            std=0.1,
            override=dict(type='Normal', name='conv_adaption', std=0.01),
        ),
    ):
        super().__init__(init_cfg)
        offset_channels = kernel_size * kernel_size * 2
        self.conv_offset = nn.Conv2d(
            2, deform_groups * offset_channels, 1, bias=False
        )
        self.conv_adaption = DeformConv2d(
            in_channels,
            out_channels,
            kernel_size=kernel_size,
            padding=(kernel_size - 1) // 2,
            deform_groups=deform_groups,
        )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x, shape):
        offset = self.conv_offset(shape.detach())
        return self.relu(self.conv_adaption(x, offset))


@HEADS.register_module()
class GuidedAnchorHead(AnchorHead):
    """Guided-anchor head (GA-RPN, GA-RetinaNet): per position a location
    logit (``conv_loc``), an anchor shape (``conv_shape``, deltas dw, dh
    of the square), features adapted to that shape
    (``feature_adaption``), then class scores and box deltas of the guided
    anchor (``conv_cls``, ``conv_reg``, masked by the location at test).

    Args:
        num_classes (int): object classes, background excluded.
        in_channels (int): input channels.
        feat_channels (int): channels of the adapted features.
        approx_anchor_generator (dict): anchors used to assign gts; its
            ``octave_base_scale`` must equal the square's scale.
        square_anchor_generator (dict): one square per position.
        anchor_coder (dict): decodes the shape deltas on the squares.
        bbox_coder (dict): decodes the box deltas on the guided anchors.
        reg_decoded_bbox (bool): regress decoded boxes.
        deform_groups (int): deformable groups of ``FeatureAdaption``.
        loc_filter_thr (float): test-time threshold on the location
            probability.
        loss_loc, loss_shape, loss_cls, loss_bbox (dict): the four losses.
        train_cfg (dict): AnchorHead's keys plus ``ga_assigner``,
            ``ga_sampler`` (optional), ``center_ratio``, ``ignore_ratio``.
    """

    train_cfg_keys = GA_TRAIN_CFG_KEYS

    def __init__(
        self,
        num_classes,
        in_channels,
        feat_channels=256,
        approx_anchor_generator=dict(
            type='AnchorGenerator',
            octave_base_scale=8,
            scales_per_octave=3,
            ratios=[0.5, 1.0, 2.0],
            strides=[4, 8, 16, 32, 64],
        ),
        square_anchor_generator=dict(
            type='AnchorGenerator',
            ratios=[1.0],
            scales=[8],
            strides=[4, 8, 16, 32, 64],
        ),
        anchor_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[0.0, 0.0, 0.0, 0.0],
            target_stds=[1.0, 1.0, 1.0, 1.0],
        ),
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[0.0, 0.0, 0.0, 0.0],
            target_stds=[1.0, 1.0, 1.0, 1.0],
        ),
        reg_decoded_bbox=False,
        deform_groups=4,
        loc_filter_thr=0.01,
        train_cfg=None,
        test_cfg=None,
        loss_loc=dict(
            type='FocalLoss',
            use_sigmoid=True,
            gamma=2.0,
            alpha=0.25,
            loss_weight=1.0,
        ),
        loss_shape=dict(type='BoundedIoULoss', beta=0.2, loss_weight=1.0),
        loss_cls=dict(
            type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0
        ),
        loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0),
        init_cfg=dict(
            type='Normal',
            layer='Conv2d',
            std=0.01,
            override=dict(
                type='Normal', name='conv_loc', std=0.01, bias_prob=0.01
            ),
        ),
    ):
        # AnchorHead's own constructor builds one prior generator; this head
        # has two, so it starts from BaseDenseHead
        BaseDenseHead.__init__(self, init_cfg)
        name = type(self).__name__
        check_cfg_keys(train_cfg, self.train_cfg_keys, f'{name} train_cfg')
        check_cfg_keys(test_cfg, self.test_cfg_keys, f'{name} test_cfg')
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
        self.deform_groups = deform_groups
        self.loc_filter_thr = loc_filter_thr
        self.reg_decoded_bbox = reg_decoded_bbox
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
        self.use_sigmoid_cls = loss_cls.get('use_sigmoid', False)
        self.cls_out_channels = num_classes + (not self.use_sigmoid_cls)
        # focal losses average over positives, sampled losses over samples
        self.sampling = loss_cls['type'] not in ['FocalLoss']
        self.loc_focal_loss = loss_loc['type'] in ['FocalLoss']
        self.ga_sampling = train_cfg is not None and 'ga_sampler' in train_cfg
        self.anchor_coder = build_bbox_coder(anchor_coder)
        self.bbox_coder = build_bbox_coder(bbox_coder)
        self.loss_loc = build_loss(loss_loc)
        self.loss_shape = build_loss(loss_shape)
        self.loss_cls = build_loss(loss_cls)
        self.loss_bbox = build_loss(loss_bbox)
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        if train_cfg:
            self._build_train_parts(train_cfg)
        self.fp16_enabled = False
        self._init_layers()

    def _build_train_parts(self, train_cfg):
        self.assigner = build_assigner(train_cfg['assigner'])
        pseudo = dict(type='PseudoSampler')
        sampler_cfg = train_cfg.get('sampler') if self.sampling else None
        self.sampler = build_sampler(sampler_cfg or pseudo, context=self)
        self.ga_assigner = build_assigner(train_cfg['ga_assigner'])
        ga_sampler_cfg = train_cfg['ga_sampler'] if self.ga_sampling else None
        self.ga_sampler = build_sampler(ga_sampler_cfg or pseudo, context=self)

    @property
    def prior_generator(self):
        """The squares' generator (one prior per position)."""
        return self.square_anchor_generator

    def _init_layers(self):
        self.relu = nn.ReLU(inplace=True)
        self.conv_loc = nn.Conv2d(self.in_channels, 1, 1)
        self.conv_shape = nn.Conv2d(
            self.in_channels, self.num_base_priors * 2, 1
        )
        self.feature_adaption = FeatureAdaption(
            self.in_channels,
            self.feat_channels,
            kernel_size=3,
            deform_groups=self.deform_groups,
        )
        self.conv_cls = MaskedConv2d(
            self.feat_channels, self.num_base_priors * self.cls_out_channels, 1
        )
        self.conv_reg = MaskedConv2d(
            self.feat_channels, self.num_base_priors * 4, 1
        )

    def _loc_mask(self, loc_pred):
        """At test time the (1, H, W) positions of the first image whose
        location probability reaches ``loc_filter_thr`` (mmcv's masked
        conv takes one image); None in training."""
        if self.training:
            return None
        return loc_pred.sigmoid()[0] >= self.loc_filter_thr

    def forward_single(self, x):
        """One level (B, C, H, W) -> cls_score (B, cls_out, H, W),
        bbox_pred (B, 4, H, W), shape_pred (B, 2, H, W), loc_pred
        (B, 1, H, W)."""
        loc_pred = self.conv_loc(x)
        shape_pred = self.conv_shape(x)
        x = self.feature_adaption(x, shape_pred)
        mask = self._loc_mask(loc_pred)
        return (
            self.conv_cls(x, mask),
            self.conv_reg(x, mask),
            shape_pred,
            loc_pred,
        )

    # ----------------------------------------------------------- anchors
    def get_sampled_approxs(self, featmap_sizes, img_metas, device='cuda'):
        """Approxs and, per position, whether any of its approxs is inside
        the image: ``approxs_list[i][l]`` (H*W*A, 4) and
        ``inside_flag_list[i][l]`` (H*W,) bool."""
        mlvl_approxs = self.approx_anchor_generator.grid_priors(
            featmap_sizes, device=device
        )
        inside_flag_list = []
        for meta in img_metas:
            mlvl_flags = self.approx_anchor_generator.valid_flags(
                featmap_sizes, meta['pad_shape'], device=device
            )
            inside_flag_list.append(
                [
                    anchor_inside_flags(
                        approxs,
                        flags,
                        meta['img_shape'][:2],
                        self.train_cfg['allowed_border'],
                    )
                    .view(-1, self.approxs_per_octave)
                    .any(dim=1)
                    for approxs, flags in zip(mlvl_approxs, mlvl_flags)
                ]
            )
        return [mlvl_approxs for _ in img_metas], inside_flag_list

    def get_anchors(
        self,
        featmap_sizes,
        shape_preds,
        loc_preds,
        img_metas,
        use_loc_filter=False,
        device='cuda',
    ):
        """Squares, guided anchors and location masks of every image:
        ``squares[i][l]`` (H*W, 4), ``guided[i][l]`` (k, 4) for the
        ``masks[i][l]`` (H*W,) bool positions kept (all unless
        ``use_loc_filter``)."""
        mlvl_squares = self.square_anchor_generator.grid_priors(
            featmap_sizes, device=device
        )
        guided_list, mask_list = [], []
        for img_id in range(len(img_metas)):
            per_level = [
                self._get_guided_anchors_single(
                    squares,
                    shape_preds[lvl][img_id],
                    loc_preds[lvl][img_id],
                    use_loc_filter=use_loc_filter,
                )
                for lvl, squares in enumerate(mlvl_squares)
            ]
            guided_list.append([guided for guided, _ in per_level])
            mask_list.append([mask for _, mask in per_level])
        return [mlvl_squares for _ in img_metas], guided_list, mask_list

    def _get_guided_anchors_single(
        self, squares, shape_pred, loc_pred, use_loc_filter=False
    ):
        """squares (H*W*A, 4), shape_pred (A*2, H, W), loc_pred (1, H, W)
        -> guided anchors (k, 4) (detached) and the (H*W*A,) mask."""
        thr = self.loc_filter_thr if use_loc_filter else 0.0
        loc_mask = loc_pred.sigmoid().detach() >= thr
        mask = loc_mask.permute(1, 2, 0).expand(-1, -1, self.num_base_priors)
        mask = mask.reshape(-1)
        wh = shape_pred.permute(1, 2, 0).reshape(-1, 2).detach()[mask]
        deltas = torch.cat([torch.zeros_like(wh), wh], dim=1)
        guided = self.anchor_coder.decode(
            squares[mask], deltas, wh_ratio_clip=1e-6
        )
        return guided, mask

    # ----------------------------------------------------------- targets
    def ga_loc_targets(self, gt_bboxes_list, featmap_sizes):
        """Location targets: each gt marks the centre region
        (``center_ratio``) of its level with target 1 and weight 1, its
        ``ignore_ratio`` region with weight 0, and the ignore regions of
        the levels above and below with weight 0; the rest has weight 0.1.

        Returns:
            tuple: per level targets and weights (B, 1, H, W), and the
            average factor (positions of all levels * B / 200).
        """
        base_scale = self.approx_anchor_generator.octave_base_scale
        strides = [s[0] for s in self.approx_anchor_generator.strides]
        r1 = (1 - self.train_cfg['center_ratio']) / 2
        r2 = (1 - self.train_cfg['ignore_ratio']) / 2
        num_imgs, num_lvls = len(gt_bboxes_list), len(featmap_sizes)
        device = gt_bboxes_list[0].device
        targets = [
            torch.zeros(num_imgs, 1, h, w, device=device)
            for h, w in featmap_sizes
        ]
        weights = [torch.full_like(t, -1) for t in targets]
        ignore = [torch.zeros_like(t) for t in targets]

        def region(gt, lvl, ratio):
            x1, y1, x2, y2 = calc_region(
                gt / strides[lvl], ratio, featmap_sizes[lvl]
            )
            return slice(int(y1), int(y2) + 1), slice(int(x1), int(x2) + 1)

        for img_id, gts in enumerate(gt_bboxes_list):
            scale = torch.sqrt(
                (gts[:, 2] - gts[:, 0]) * (gts[:, 3] - gts[:, 1])
            )
            min_size = scale.new_full((1,), float(base_scale * strides[0]))
            lvls = torch.floor(torch.log2(scale) - torch.log2(min_size) + 0.5)
            lvls = lvls.clamp(min=0, max=num_lvls - 1).long().tolist()
            for gt, lvl in zip(gts[:, :4], lvls):
                ctr = region(gt, lvl, r1)
                targets[lvl][(img_id, 0) + ctr] = 1
                weights[lvl][(img_id, 0) + region(gt, lvl, r2)] = 0
                weights[lvl][(img_id, 0) + ctr] = 1
                for near in (lvl - 1, lvl + 1):
                    if 0 <= near < num_lvls:
                        ignore[near][(img_id, 0) + region(gt, near, r2)] = 1
        for weight, ign in zip(weights, ignore):
            weight[(weight < 0) & (ign > 0)] = 0
            weight[weight < 0] = 0.1
        avg_factor = sum(t.size(0) * t.size(-1) * t.size(-2) for t in targets)
        return targets, weights, avg_factor / 200

    def _ga_shape_target_single(
        self,
        flat_approxs,
        inside_flags,
        flat_squares,
        gt_bboxes,
        gt_bboxes_ignore,
        img_meta,
        unmap_outputs=True,
    ):
        """Shape targets of one image: the sampled squares (S, 4), their
        gt boxes (S, 4) and weights (S, 4) (1 on positives), plus
        pos_inds and neg_inds; None in each place if nothing is inside."""
        if not inside_flags.any():
            return (None,) * 5
        approx_flags = inside_flags.repeat_interleave(self.approxs_per_octave)
        squares = flat_squares[inside_flags]
        assign_result = self.ga_assigner.assign(
            flat_approxs[approx_flags],
            squares,
            self.approxs_per_octave,
            gt_bboxes,
            gt_bboxes_ignore,
        )
        result = self.ga_sampler.sample(assign_result, squares, gt_bboxes)
        anchors = torch.zeros_like(squares)
        gts = torch.zeros_like(squares)
        weights = torch.zeros_like(squares)
        if len(result.pos_inds) > 0:
            anchors[result.pos_inds] = result.pos_bboxes
            gts[result.pos_inds] = result.pos_gt_bboxes
            weights[result.pos_inds] = 1.0
        if unmap_outputs:
            total = flat_squares.size(0)
            anchors = unmap(anchors, total, inside_flags)
            gts = unmap(gts, total, inside_flags)
            weights = unmap(weights, total, inside_flags)
        return anchors, gts, weights, result.pos_inds, result.neg_inds

    def ga_shape_targets(
        self,
        approx_list,
        inside_flag_list,
        square_list,
        gt_bboxes_list,
        img_metas,
        gt_bboxes_ignore_list=None,
        unmap_outputs=True,
    ):
        """Per level (B, S_l, 4) sampled squares, their gts and weights,
        then num_total_pos and num_total_neg; None if an image has no
        square inside."""
        num_imgs = len(img_metas)
        if gt_bboxes_ignore_list is None:
            gt_bboxes_ignore_list = [None] * num_imgs
        per_image = [
            self._ga_shape_target_single(
                torch.cat(approx_list[i]),
                torch.cat(inside_flag_list[i]),
                torch.cat(square_list[i]),
                gt_bboxes_list[i],
                gt_bboxes_ignore_list[i],
                img_metas[i],
                unmap_outputs=unmap_outputs,
            )
            for i in range(num_imgs)
        ]
        if any(res[0] is None for res in per_image):
            return None
        anchors, gts, weights, pos_inds, neg_inds = zip(*per_image)
        num_level_squares = [s.size(0) for s in square_list[0]]
        levels = tuple(
            images_to_levels(list(t), num_level_squares)
            for t in (anchors, gts, weights)
        )
        num_pos = sum(max(inds.numel(), 1) for inds in pos_inds)
        num_neg = sum(max(inds.numel(), 1) for inds in neg_inds)
        return levels + (num_pos, num_neg)

    # -------------------------------------------------------------- loss
    def loss_shape_single(
        self, shape_pred, bbox_anchors, bbox_gts, anchor_weights, avg_factor
    ):
        """Bounded-IoU loss of the positive squares reshaped by
        ``shape_pred`` (B, 2, H, W) against their gts."""
        wh = shape_pred.permute(0, 2, 3, 1).reshape(-1, 2)
        weights = anchor_weights.reshape(-1, 4)
        pos = weights[:, 0] > 0
        deltas = torch.cat([torch.zeros_like(wh), wh], dim=1)[pos]
        pred = self.anchor_coder.decode(
            bbox_anchors.reshape(-1, 4)[pos], deltas, wh_ratio_clip=1e-6
        )
        return self.loss_shape(
            pred,
            bbox_gts.reshape(-1, 4)[pos],
            weights[pos],
            avg_factor=avg_factor,
        )

    def loss_loc_single(self, loc_pred, loc_target, loc_weight, avg_factor):
        """Location loss of one level's (B, 1, H, W) logits."""
        return self.loss_loc(
            loc_pred.reshape(-1, 1),
            loc_target.reshape(-1).long(),
            loc_weight.reshape(-1),
            avg_factor=avg_factor,
        )

    def _cls_reg_losses(
        self,
        cls_scores,
        bbox_preds,
        guided_anchors,
        inside_flags,
        gt_bboxes,
        gt_labels,
        img_metas,
        gt_bboxes_ignore,
    ):
        """Per level classification and box losses of the guided anchors
        (the shared AnchorHead targets); None if an image has none
        inside."""
        batch = self._get_targets_batch(
            guided_anchors,
            inside_flags,
            gt_bboxes,
            img_metas,
            gt_bboxes_ignore,
            gt_labels,
        )
        if batch is None:
            return None
        targets, (num_pos, num_neg) = batch[:4], batch[4:6]
        avg_factor = num_pos + num_neg if self.sampling else num_pos
        num_level = [a.size(0) for a in guided_anchors[0]]
        anchors = torch.stack([torch.cat(a) for a in guided_anchors])
        split = [
            t.split(num_level, dim=1) for t in (anchors,) + tuple(targets)
        ]
        losses_cls, losses_bbox = [], []
        for lvl, (score, pred) in enumerate(zip(cls_scores, bbox_preds)):
            anchor, label, label_w, target, target_w = (s[lvl] for s in split)
            loss_cls, loss_bbox = self.loss_single(
                score.permute(0, 2, 3, 1).reshape(-1, self.cls_out_channels),
                pred.permute(0, 2, 3, 1).reshape(-1, 4),
                anchor.reshape(-1, 4),
                label.reshape(-1),
                label_w.reshape(-1),
                target.reshape(-1, 4),
                target_w.reshape(-1, 4),
                avg_factor,
            )
            losses_cls.append(loss_cls)
            losses_bbox.append(loss_bbox)
        return losses_cls, losses_bbox

    @force_fp32(
        apply_to=('cls_scores', 'bbox_preds', 'shape_preds', 'loc_preds')
    )
    def loss(
        self,
        cls_scores,
        bbox_preds,
        shape_preds,
        loc_preds,
        gt_bboxes,
        gt_labels,
        img_metas,
        gt_bboxes_ignore=None,
    ):
        """``loss_cls``, ``loss_bbox``, ``loss_shape``, ``loss_loc``: one
        scalar per level each; None if an image has no usable anchor."""
        featmap_sizes = [score.shape[-2:] for score in cls_scores]
        device = cls_scores[0].device
        loc_targets, loc_weights, loc_avg = self.ga_loc_targets(
            gt_bboxes, featmap_sizes
        )
        approxs, inside_flags = self.get_sampled_approxs(
            featmap_sizes, img_metas, device=device
        )
        squares, guided, _ = self.get_anchors(
            featmap_sizes, shape_preds, loc_preds, img_metas, device=device
        )
        shape_targets = self.ga_shape_targets(
            approxs, inside_flags, squares, gt_bboxes, img_metas
        )
        if shape_targets is None:
            return None
        anchors, gts, weights, num_fg, num_bg = shape_targets
        shape_avg = num_fg + num_bg if self.ga_sampling else num_fg
        cls_reg = self._cls_reg_losses(
            cls_scores,
            bbox_preds,
            guided,
            inside_flags,
            gt_bboxes,
            gt_labels,
            img_metas,
            gt_bboxes_ignore,
        )
        if cls_reg is None:
            return None
        losses_loc = [
            self.loss_loc_single(*args, loc_avg)
            for args in zip(loc_preds, loc_targets, loc_weights)
        ]
        losses_shape = [
            self.loss_shape_single(*args, shape_avg)
            for args in zip(shape_preds, anchors, gts, weights)
        ]
        return dict(
            loss_cls=cls_reg[0],
            loss_bbox=cls_reg[1],
            loss_shape=losses_shape,
            loss_loc=losses_loc,
        )

    # ------------------------------------------------------------ test
    @force_fp32(
        apply_to=('cls_scores', 'bbox_preds', 'shape_preds', 'loc_preds')
    )
    def get_bboxes(
        self,
        cls_scores,
        bbox_preds,
        shape_preds,
        loc_preds,
        img_metas,
        cfg=None,
        rescale=False,
        with_nms=True,
    ):
        """Detections of every image from the guided anchors kept by the
        location filter (at test time): per image ``(dets (n, 5), labels
        (n,))`` (GA-RPN: (n, 5) proposals)."""
        featmap_sizes = [score.shape[-2:] for score in cls_scores]
        _, guided, masks = self.get_anchors(
            featmap_sizes,
            shape_preds,
            loc_preds,
            img_metas,
            use_loc_filter=not self.training,
            device=cls_scores[0].device,
        )
        return [
            self._get_bboxes_single(
                [score[img_id].detach() for score in cls_scores],
                [pred[img_id].detach() for pred in bbox_preds],
                guided[img_id],
                masks[img_id],
                meta,
                cfg,
                rescale,
                with_nms,
            )
            for img_id, meta in enumerate(img_metas)
        ]

    def _get_bboxes_single(
        self,
        cls_scores,
        bbox_preds,
        mlvl_anchors,
        mlvl_masks,
        img_meta,
        cfg,
        rescale=False,
        with_nms=True,
    ):
        """One image: per level the masked positions, the ``nms_pre`` of
        highest best-class score, decoded; then every (box, class) pair
        above ``score_thr`` goes through the shared ``_bbox_post_process``
        (rescale, class-wise NMS, ``max_per_img``)."""
        cfg = self.test_cfg if cfg is None else cfg
        nms_pre = cfg.get('nms_pre', -1)
        mlvl_bboxes, mlvl_scores = [], []
        for score, pred, anchors, mask in zip(
            cls_scores, bbox_preds, mlvl_anchors, mlvl_masks
        ):
            scores = self._class_scores(
                score.permute(1, 2, 0).reshape(-1, self.cls_out_channels)
            )[mask]
            pred = pred.permute(1, 2, 0).reshape(-1, 4)[mask]
            if 0 < nms_pre < scores.size(0):
                inds = scores.max(dim=1).values.topk(nms_pre).indices
                scores, pred, anchors = scores[inds], pred[inds], anchors[inds]
            mlvl_bboxes.append(
                self.bbox_coder.decode(
                    anchors, pred, max_shape=img_meta['img_shape']
                )
            )
            mlvl_scores.append(scores)
        bboxes, scores = torch.cat(mlvl_bboxes), torch.cat(mlvl_scores)
        box_inds, labels = (scores > cfg['score_thr']).nonzero(as_tuple=True)
        return self._bbox_post_process(
            scores[box_inds, labels],
            labels,
            bboxes[box_inds],
            img_meta['scale_factor'],
            cfg,
            rescale,
            with_nms,
        )
