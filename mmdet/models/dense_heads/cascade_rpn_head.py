"""Cascade RPN (Vu et al., 2019): RPN stages that refine one anchor per
position, each stage's conv sampling where the current anchor lies."""

import copy

import torch
import torch.nn as nn
from mmcv.runner import BaseModule, ModuleList

from mmdet.core import (
    RegionAssigner,
    build_sampler,
    images_to_levels,
    multi_apply,
)
from mmdet.core.utils import select_single_mlvl
from mmdet.utils.arg_errors import check_arg
from ..builder import HEADS, build_head
from ..utils.deform_conv import DeformConv2d
from .anchor_head import AnchorHead
from .base_dense_head import BaseDenseHead
from .rpn_head import RPNHead


class AdaptiveConv(BaseModule):
    """3x3 conv whose sampling grid follows the anchors.

    ``type='dilation'``: a plain conv with ``padding = dilation`` (one
    uniform anchor shape); ``type='offset'``: a deformable conv fed with
    per-position offsets (see :meth:`StageCascadeRPNHead.anchor_offset`).
    ``forward(x, offset)``: x (B, C_in, H, W), offset (B, H*W, 18) in the
    offset mode (None otherwise) -> (B, C_out, H, W).
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size=3,
        stride=1,
        padding=1,
        dilation=3,
        groups=1,
        bias=False,
        type='dilation',
        init_cfg=dict(type='Normal', std=0.01, override=dict(name='conv')),
    ):
        super().__init__(init_cfg)
        name = 'AdaptiveConv'
        check_arg(
            type in ('offset', 'dilation'),
            name,
            f"type must be 'offset' or 'dilation', got {type!r}",
        )
        check_arg(kernel_size == 3, name, 'only 3x3 kernels are supported')
        self.adapt_type = type
        if type == 'offset':
            check_arg(
                stride == 1 and padding == 1 and groups == 1,
                name,
                'the offset mode needs stride 1, padding 1 and groups 1',
            )
            self.conv = DeformConv2d(
                in_channels,
                out_channels,
                kernel_size,
                stride=stride,
                padding=padding,
                groups=groups,
                bias=bias,
            )
        else:
            # bias, stride and groups are not used here, as in MMDetection
            self.conv = nn.Conv2d(
                in_channels,
                out_channels,
                kernel_size,
                padding=dilation,
                dilation=dilation,
            )

    def forward(self, x, offset):
        if self.adapt_type == 'dilation':
            check_arg(offset is None, 'AdaptiveConv', 'dilation: no offset')
            return self.conv(x)
        n, _, h, w = x.shape
        check_arg(
            offset is not None and offset.shape[1] == h * w,
            'AdaptiveConv',
            'the offset mode needs (B, H*W, 18) offsets',
        )
        offset = offset.permute(0, 2, 1).reshape(n, -1, h, w).contiguous()
        return self.conv(x, offset)


def _shape_offset(anchors, stride, ks=3, dilation=1):
    """(NA, 9) x and y offsets that stretch the 3x3 grid of an anchor-less
    conv over each (NA, 4) anchor's width and height (feature cells)."""
    pad = (ks - 1) // 2
    idx = torch.arange(
        -pad, pad + 1, dtype=anchors.dtype, device=anchors.device
    )
    yy, xx = torch.meshgrid(idx, idx, indexing='ij')
    w = (anchors[:, 2] - anchors[:, 0]) / stride / (ks - 1) - dilation
    h = (anchors[:, 3] - anchors[:, 1]) / stride / (ks - 1) - dilation
    return w[:, None] * xx.reshape(-1), h[:, None] * yy.reshape(-1)


def _ctr_offset(anchors, stride, featmap_size):
    """(NA,) x and y shifts (feature cells) from each position to the centre
    of its (NA, 4) anchor; NA = H * W, row-major."""
    feat_h, feat_w = featmap_size
    x = (anchors[:, 0] + anchors[:, 2]) * 0.5 / stride
    y = (anchors[:, 1] + anchors[:, 3]) * 0.5 / stride
    yy, xx = torch.meshgrid(
        torch.arange(feat_h, device=anchors.device),
        torch.arange(feat_w, device=anchors.device),
        indexing='ij',
    )
    return x - xx.reshape(-1).type_as(x), y - yy.reshape(-1).type_as(y)


@HEADS.register_module()
class StageCascadeRPNHead(RPNHead):
    """One Cascade RPN stage: an :class:`AdaptiveConv` (``rpn_conv``) +
    ReLU, then 1x1 convs ``rpn_cls`` (if ``with_cls``) and ``rpn_reg``.

    Args:
        in_channels (int): channels of the input maps.
        anchor_generator (dict): one anchor per position (scales[0],
            strides are read by the region assigner and the offsets).
        adapt_cfg (dict): :class:`AdaptiveConv` arguments (``type``...).
        bridged_feature (bool): hand this stage's conv output (instead of
            its input) to the next stage.
        with_cls (bool): predict objectness.
        sampling (bool): use ``train_cfg.sampler`` (else PseudoSampler).
        init_cfg (dict, optional): Normal(0.01) on rpn_reg / rpn_cls if
            None.
        **kwargs: :class:`RPNHead` / :class:`AnchorHead` arguments.
    """

    def __init__(
        self,
        in_channels,
        anchor_generator=dict(
            type='AnchorGenerator',
            scales=[8],
            ratios=[1.0],
            strides=[4, 8, 16, 32, 64],
        ),
        adapt_cfg=dict(type='dilation', dilation=3),
        bridged_feature=False,
        with_cls=True,
        sampling=True,
        init_cfg=None,
        **kwargs,
    ):
        self.with_cls = with_cls
        self.anchor_strides = anchor_generator['strides']
        self.anchor_scales = anchor_generator['scales']
        self.bridged_feature = bridged_feature
        self.adapt_cfg = adapt_cfg
        super().__init__(
            in_channels,
            anchor_generator=anchor_generator,
            init_cfg=init_cfg,
            **kwargs,
        )
        self.sampling = sampling
        if self.train_cfg:
            sampler_cfg = self.train_cfg.get('sampler')
            if not (sampling and sampler_cfg):
                sampler_cfg = dict(type='PseudoSampler')
            self.sampler = build_sampler(sampler_cfg, context=self)
        if init_cfg is None:
            override = [dict(name='rpn_reg')]
            if with_cls:
                override.append(dict(name='rpn_cls'))
            self.init_cfg = dict(type='Normal', std=0.01, override=override)

    def _init_layers(self):
        self.rpn_conv = AdaptiveConv(
            self.in_channels, self.feat_channels, **self.adapt_cfg
        )
        if self.with_cls:
            self.rpn_cls = nn.Conv2d(
                self.feat_channels,
                self.num_base_priors * self.cls_out_channels,
                1,
            )
        self.rpn_reg = nn.Conv2d(
            self.feat_channels, self.num_base_priors * 4, 1
        )
        self.relu = nn.ReLU(inplace=True)

    def forward_single(self, x, offset):
        """One level -> (features for the next stage, objectness (B, A,
        H, W) or None, deltas (B, A*4, H, W))."""
        out = self.relu(self.rpn_conv(x, offset))
        cls_score = self.rpn_cls(out) if self.with_cls else None
        next_x = out if self.bridged_feature else x
        return next_x, cls_score, self.rpn_reg(out)

    def forward(self, feats, offset_list=None):
        """Per-level lists (features, cls_scores, bbox_preds)."""
        if offset_list is None:
            offset_list = [None] * len(feats)
        return multi_apply(self.forward_single, feats, offset_list)

    # ----------------------------------------------------------- targets
    def _region_targets_single(
        self,
        anchors,
        valid_flags,
        gt_bboxes,
        gt_bboxes_ignore,
        gt_labels,
        img_meta,
        featmap_sizes,
        label_channels=1,
    ):
        """Targets of one image from the region assigner; ``anchors`` and
        ``valid_flags`` are per-level lists. Returns labels, label_weights,
        bbox_targets, bbox_weights (levels concatenated), pos/neg inds."""
        assign_result = self.assigner.assign(
            anchors,
            valid_flags,
            gt_bboxes,
            img_meta,
            featmap_sizes,
            self.anchor_scales[0],
            self.anchor_strides,
            gt_bboxes_ignore=gt_bboxes_ignore,
            gt_labels=None,
            allowed_border=self.train_cfg['allowed_border'],
        )
        flat_anchors = torch.cat(anchors)
        result = self.sampler.sample(assign_result, flat_anchors, gt_bboxes)
        labels, label_weights, bbox_targets, bbox_weights = (
            self._sampled_targets(flat_anchors, result, gt_labels)
        )
        if gt_labels is None:
            # MMDetection labels region-assigned positives 1, the rest 0
            # (the reverse of the RPN's convention; used without with_cls)
            labels = (labels == 0).long()
        return (
            labels,
            label_weights,
            bbox_targets,
            bbox_weights,
            result.pos_inds,
            result.neg_inds,
        )

    def region_targets(
        self,
        anchor_list,
        valid_flag_list,
        gt_bboxes_list,
        img_metas,
        featmap_sizes,
        gt_bboxes_ignore_list=None,
        gt_labels_list=None,
        label_channels=1,
        unmap_outputs=True,
    ):
        """Per-level targets (B, N_l[, 4]) from the region assigner, then
        num_total_pos and num_total_neg (an image counts at least 1)."""
        num_imgs = len(img_metas)
        if gt_bboxes_ignore_list is None:
            gt_bboxes_ignore_list = [None] * num_imgs
        if gt_labels_list is None:
            gt_labels_list = [None] * num_imgs
        *targets, pos_inds, neg_inds = multi_apply(
            self._region_targets_single,
            anchor_list,
            valid_flag_list,
            gt_bboxes_list,
            gt_bboxes_ignore_list,
            gt_labels_list,
            img_metas,
            featmap_sizes=featmap_sizes,
            label_channels=label_channels,
        )
        num_level_anchors = [a.size(0) for a in anchor_list[0]]
        level_lists = tuple(
            images_to_levels(t, num_level_anchors) for t in targets
        )
        num_total_pos = sum(max(i.numel(), 1) for i in pos_inds)
        num_total_neg = sum(max(i.numel(), 1) for i in neg_inds)
        return level_lists + (num_total_pos, num_total_neg)

    def get_targets(
        self,
        anchor_list,
        valid_flag_list,
        gt_bboxes,
        img_metas,
        featmap_sizes,
        gt_bboxes_ignore=None,
        label_channels=1,
    ):
        """Per-level labels, label_weights, bbox_targets, bbox_weights and
        num_total_pos, num_total_neg, from the region assigner or (other
        assigners) as :meth:`AnchorHead.get_targets`."""
        if isinstance(self.assigner, RegionAssigner):
            return self.region_targets(
                anchor_list,
                valid_flag_list,
                gt_bboxes,
                img_metas,
                featmap_sizes,
                gt_bboxes_ignore_list=gt_bboxes_ignore,
                label_channels=label_channels,
            )
        return AnchorHead.get_targets(
            self,
            anchor_list,
            valid_flag_list,
            gt_bboxes,
            img_metas,
            gt_bboxes_ignore_list=gt_bboxes_ignore,
            label_channels=label_channels,
        )

    def anchor_offset(self, anchor_list, anchor_strides, featmap_sizes):
        """Deformable-conv offsets that put the 3x3 samples of each
        position on its anchor: per level (B, N_l, 18), (dy, dx) pairs in
        feature cells, row-major over the kernel."""
        num_level_anchors = [a.size(0) for a in anchor_list[0]]
        per_image = []
        for mlvl_anchors in anchor_list:
            mlvl = []
            for anchors, stride, size in zip(
                mlvl_anchors, anchor_strides, featmap_sizes
            ):
                ctr_x, ctr_y = _ctr_offset(anchors, stride, size)
                shape_x, shape_y = _shape_offset(anchors, stride)
                offset = torch.stack(
                    [shape_y + ctr_y[:, None], shape_x + ctr_x[:, None]],
                    dim=-1,
                )
                mlvl.append(offset.reshape(offset.size(0), -1))
            per_image.append(torch.cat(mlvl))
        return images_to_levels(per_image, num_level_anchors)

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
        """Losses of one level: maps (B, A*C, H, W) / (B, A*4, H, W),
        anchors (B*N, 4), targets (B, N[, 4]). Returns (loss_cls or None,
        loss_reg)."""
        loss_cls = None
        if self.with_cls:
            loss_cls = self.loss_cls(
                cls_score.permute(0, 2, 3, 1).reshape(
                    -1, self.cls_out_channels
                ),
                labels.reshape(-1),
                label_weights.reshape(-1),
                avg_factor=num_total_samples,
            )
        bbox_pred = bbox_pred.permute(0, 2, 3, 1).reshape(-1, 4)
        if self.reg_decoded_bbox:
            bbox_pred = self.bbox_coder.decode(
                anchors.reshape(-1, 4), bbox_pred
            )
        loss_reg = self.loss_bbox(
            bbox_pred,
            bbox_targets.reshape(-1, 4),
            bbox_weights.reshape(-1, 4),
            avg_factor=num_total_samples,
        )
        return loss_cls, loss_reg

    def loss(
        self,
        anchor_list,
        valid_flag_list,
        cls_scores,
        bbox_preds,
        gt_bboxes,
        img_metas,
        gt_bboxes_ignore=None,
    ):
        """``loss_rpn_reg`` (and ``loss_rpn_cls`` with ``with_cls``), one
        value per level, for the current anchors ``anchor_list[i][l]``.
        Without sampling the average factor is (number of anchors) / 200,
        as in MMDetection."""
        featmap_sizes = [pred.shape[-2:] for pred in bbox_preds]
        targets = self.get_targets(
            anchor_list,
            valid_flag_list,
            gt_bboxes,
            img_metas,
            featmap_sizes,
            gt_bboxes_ignore=gt_bboxes_ignore,
            label_channels=self.cls_out_channels,
        )
        if targets is None:
            return None
        labels, label_weights, bbox_targets, bbox_weights = targets[:4]
        num_pos, num_neg = targets[4:6]
        if self.sampling:
            num_total_samples = num_pos + num_neg
        else:
            num_total_samples = sum(t.numel() for t in labels) / 200.0
        level_anchors = [torch.cat(a) for a in zip(*anchor_list)]
        if not self.with_cls:
            cls_scores = [None] * len(bbox_preds)
        losses_cls, losses_reg = multi_apply(
            self.loss_single,
            cls_scores,
            bbox_preds,
            level_anchors,
            labels,
            label_weights,
            bbox_targets,
            bbox_weights,
            num_total_samples=num_total_samples,
        )
        if self.with_cls:
            return dict(loss_rpn_cls=losses_cls, loss_rpn_reg=losses_reg)
        return dict(loss_rpn_reg=losses_reg)

    # --------------------------------------------------------- proposals
    def get_bboxes(
        self,
        anchor_list,
        cls_scores,
        bbox_preds,
        img_metas,
        cfg,
        rescale=False,
    ):
        """Per image (n, 5) proposals from the current anchors
        ``anchor_list[i][l]`` (no gradient), through
        :meth:`RPNHead._get_bboxes_single`."""
        num_levels = len(cls_scores)
        return [
            self._get_bboxes_single(
                select_single_mlvl(cls_scores, i),
                select_single_mlvl(bbox_preds, i),
                [None] * num_levels,
                anchor_list[i],
                img_meta,
                cfg,
                rescale,
            )
            for i, img_meta in enumerate(img_metas)
        ]

    def refine_bboxes(self, anchor_list, bbox_preds, img_metas):
        """The next stage's anchors: ``anchor_list[i][l]`` decoded with the
        (detached) deltas, clipped to the image."""
        return [
            [
                self.bbox_coder.decode(
                    anchors,
                    pred[i].detach().permute(1, 2, 0).reshape(-1, 4),
                    img_meta['img_shape'],
                )
                for anchors, pred in zip(anchor_list[i], bbox_preds)
            ]
            for i, img_meta in enumerate(img_metas)
        ]


@HEADS.register_module()
class CascadeRPNHead(BaseDenseHead):
    """A sequence of :class:`StageCascadeRPNHead`; stage i trains with
    ``train_cfg[i]``, the last one gives the proposals (with ``test_cfg``,
    in training too, as in MMDetection).

    Args:
        num_stages (int): number of stages.
        stages (list[dict]): their configs.
        train_cfg (list[dict] | None): per-stage train settings.
        test_cfg (dict | None): proposal settings.
        init_cfg (dict, optional): initialization config.
    """

    def __init__(self, num_stages, stages, train_cfg, test_cfg, init_cfg=None):
        super().__init__(init_cfg)
        check_arg(
            num_stages == len(stages),
            'CascadeRPNHead',
            f'num_stages={num_stages} but {len(stages)} stage configs',
        )
        self.num_stages = num_stages
        self.stages = ModuleList()
        for i, stage in enumerate(stages):
            stage = copy.deepcopy(stage)
            stage.update(
                train_cfg=train_cfg[i] if train_cfg is not None else None,
                test_cfg=test_cfg,
            )
            self.stages.append(build_head(stage))
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg

    def loss(self):
        raise NotImplementedError('the stages compute the losses')

    def get_bboxes(self):
        raise NotImplementedError('the last stage gives the proposals')

    def _run_stages(self, x, img_metas, stage_fn=None):
        """Run every stage from the first stage's anchors; ``stage_fn(i,
        stage, anchors, valid_flags, cls_score, bbox_pred)`` sees each
        stage's outputs. Returns the last anchors, cls_score, bbox_pred."""
        featmap_sizes = [feat.shape[-2:] for feat in x]
        anchor_list, valid_flag_list = self.stages[0].get_anchors(
            featmap_sizes, img_metas, device=x[0].device
        )
        for i, stage in enumerate(self.stages):
            offset_list = None
            if stage.adapt_cfg['type'] == 'offset':
                offset_list = stage.anchor_offset(
                    anchor_list, stage.anchor_strides, featmap_sizes
                )
            x, cls_score, bbox_pred = stage(x, offset_list)
            if stage_fn is not None:
                stage_fn(
                    i,
                    stage,
                    anchor_list,
                    valid_flag_list,
                    cls_score,
                    bbox_pred,
                )
            if i < self.num_stages - 1:
                anchor_list = stage.refine_bboxes(
                    anchor_list, bbox_pred, img_metas
                )
        return anchor_list, cls_score, bbox_pred

    def forward_train(
        self,
        x,
        img_metas,
        gt_bboxes,
        gt_labels=None,
        gt_bboxes_ignore=None,
        proposal_cfg=None,
    ):
        """Losses ``s{i}.loss_rpn_cls`` / ``s{i}.loss_rpn_reg`` of every
        stage, and the proposals if ``proposal_cfg`` is given (made with
        ``test_cfg``). ``gt_bboxes_ignore`` is not used, as in
        MMDetection."""
        check_arg(gt_labels is None, 'CascadeRPNHead', 'RPN: no gt_labels')
        losses = dict()

        def add_losses(i, stage, anchors, valid_flags, cls_score, bbox_pred):
            stage_losses = stage.loss(
                anchors,
                valid_flags,
                cls_score,
                bbox_pred,
                gt_bboxes,
                img_metas,
            )
            for name, value in stage_losses.items():
                losses[f's{i}.{name}'] = value

        anchors, cls_score, bbox_pred = self._run_stages(
            x, img_metas, add_losses
        )
        if proposal_cfg is None:
            return losses
        proposals = self.stages[-1].get_bboxes(
            anchors, cls_score, bbox_pred, img_metas, self.test_cfg
        )
        return losses, proposals

    def simple_test_rpn(self, x, img_metas):
        """Per image (n, 5) proposals in input-image pixels."""
        anchors, cls_score, bbox_pred = self._run_stages(x, img_metas)
        return self.stages[-1].get_bboxes(
            anchors, cls_score, bbox_pred, img_metas, self.test_cfg
        )

    def aug_test_rpn(self, x, img_metas):
        raise NotImplementedError(
            'CascadeRPNHead does not support test-time augmentation'
        )
