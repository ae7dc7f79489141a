"""YOLOX's decoupled head (Ge et al., "YOLOX: Exceeding YOLO Series in
2021")."""

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import (
    ConvModule,
    DepthwiseSeparableConvModule,
    bias_init_with_prob,
)
from mmcv.runner import force_fp32

from mmdet.core import (
    MlvlPointGenerator,
    batched_nms,
    bbox_xyxy_to_cxcywh,
    build_assigner,
    build_sampler,
    reduce_mean,
)
from mmdet.utils.arg_errors import InvalidArgumentError
from ..builder import HEADS, build_loss
from .base_dense_head import BaseDenseHead


def flatten_maps(maps, channels):
    """Per-level (B, channels, H, W) maps -> (B, sum(H*W), channels)."""
    return torch.cat(
        [m.permute(0, 2, 3, 1).reshape(m.size(0), -1, channels) for m in maps],
        dim=1,
    )


@HEADS.register_module()
class YOLOXHead(BaseDenseHead):
    """Anchor-free head with separate classification and box towers per
    level; the box tower also predicts an objectness. Boxes are decoded
    from the cell corner point: centre ``(dx, dy) * stride + point``, size
    ``exp(dw, dh) * stride``. Training assigns with SimOTA; the L1 loss on
    the raw predictions is switched on (``use_l1``) by
    ``YOLOXModeSwitchHook`` for the last epochs.

    Args:
        num_classes (int): object classes.
        in_channels (int): channels of every input level.
        feat_channels (int): channels of the towers.
        stacked_convs (int): convs per tower.
        strides (list[int]): stride of each level.
        use_depthwise (bool): depthwise-separable tower convs.
        dcn_on_last_conv (bool): a DCNv2 as the last tower conv.
        conv_bias (bool | str): bias of the tower convs ('auto': none
            before a norm).
        conv_cfg, norm_cfg, act_cfg (dict): of the tower convs.
        loss_cls, loss_bbox, loss_obj, loss_l1 (dict): the losses (sums,
            divided by the number of positives).
        train_cfg (dict, optional): ``assigner`` (a ``SimOTAAssigner``).
        test_cfg (dict, optional): ``score_thr`` and ``nms``.
        init_cfg (dict): PyTorch's default conv init (Kaiming uniform with
            ``a = sqrt(5)``); class and objectness biases for a 0.01 prior.
    """

    def __init__(
        self,
        num_classes,
        in_channels,
        feat_channels=256,
        stacked_convs=2,
        strides=[8, 16, 32],
        use_depthwise=False,
        dcn_on_last_conv=False,
        conv_bias='auto',
        conv_cfg=None,
        norm_cfg=dict(type='BN', momentum=0.03, eps=0.001),
        act_cfg=dict(type='Swish'),
        loss_cls=dict(
            type='CrossEntropyLoss',
            use_sigmoid=True,
            reduction='sum',
            loss_weight=1.0,
        ),
        loss_bbox=dict(
            type='IoULoss',
            mode='square',
            eps=1e-16,
            reduction='sum',
            loss_weight=5.0,
        ),
        loss_obj=dict(
            type='CrossEntropyLoss',
            use_sigmoid=True,
            reduction='sum',
            loss_weight=1.0,
        ),
        loss_l1=dict(type='L1Loss', reduction='sum', loss_weight=1.0),
        train_cfg=None,
        test_cfg=None,
        init_cfg=dict(
            type='Kaiming',
            layer='Conv2d',
            a=math.sqrt(5),
            distribution='uniform',
            mode='fan_in',
            nonlinearity='leaky_relu',
        ),
    ):
        super().__init__(init_cfg=init_cfg)
        if not (conv_bias == 'auto' or isinstance(conv_bias, bool)):
            raise InvalidArgumentError(
                f"conv_bias must be 'auto' or a bool: {conv_bias}"
            )
        self.num_classes = num_classes
        self.cls_out_channels = num_classes
        self.in_channels = in_channels
        self.feat_channels = feat_channels
        self.stacked_convs = stacked_convs
        self.strides = strides
        self.use_depthwise = use_depthwise
        self.dcn_on_last_conv = dcn_on_last_conv
        self.conv_bias = conv_bias
        self.use_sigmoid_cls = True
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg
        self.loss_cls = build_loss(loss_cls)
        self.loss_bbox = build_loss(loss_bbox)
        self.loss_obj = build_loss(loss_obj)
        self.use_l1 = False  # switched on by YOLOXModeSwitchHook
        self.loss_l1 = build_loss(loss_l1)
        self.prior_generator = MlvlPointGenerator(strides, offset=0)
        self.test_cfg = test_cfg
        self.train_cfg = train_cfg
        self.sampling = False
        if train_cfg:
            self.assigner = build_assigner(train_cfg['assigner'])
            self.sampler = build_sampler(
                dict(type='PseudoSampler'), context=self
            )
        self.fp16_enabled = False
        self._init_layers()

    def _init_layers(self):
        names = ('cls_convs', 'reg_convs', 'conv_cls', 'conv_reg', 'conv_obj')
        for name in names:
            setattr(self, f'multi_level_{name}', nn.ModuleList())
        for _ in self.strides:
            self.multi_level_cls_convs.append(self._build_stacked_convs())
            self.multi_level_reg_convs.append(self._build_stacked_convs())
            conv_cls, conv_reg, conv_obj = self._build_predictor()
            self.multi_level_conv_cls.append(conv_cls)
            self.multi_level_conv_reg.append(conv_reg)
            self.multi_level_conv_obj.append(conv_obj)

    def _build_stacked_convs(self):
        conv = (
            DepthwiseSeparableConvModule if self.use_depthwise else ConvModule
        )
        layers = []
        for i in range(self.stacked_convs):
            last = i == self.stacked_convs - 1
            conv_cfg = (
                dict(type='DCNv2')
                if self.dcn_on_last_conv and last
                else self.conv_cfg
            )
            layers.append(
                conv(
                    self.in_channels if i == 0 else self.feat_channels,
                    self.feat_channels,
                    3,
                    stride=1,
                    padding=1,
                    conv_cfg=conv_cfg,
                    norm_cfg=self.norm_cfg,
                    act_cfg=self.act_cfg,
                    bias=self.conv_bias,
                )
            )
        return nn.Sequential(*layers)

    def _build_predictor(self):
        """1x1 convs: class logits, box (dx, dy, dw, dh), objectness."""
        return (
            nn.Conv2d(self.feat_channels, self.cls_out_channels, 1),
            nn.Conv2d(self.feat_channels, 4, 1),
            nn.Conv2d(self.feat_channels, 1, 1),
        )

    def init_weights(self):
        super().init_weights()
        bias = bias_init_with_prob(0.01)
        for conv_cls, conv_obj in zip(
            self.multi_level_conv_cls, self.multi_level_conv_obj
        ):
            conv_cls.bias.data.fill_(bias)
            conv_obj.bias.data.fill_(bias)

    def forward_single(
        self, x, cls_convs, reg_convs, conv_cls, conv_reg, conv_obj
    ):
        """One level -> class logits (B, C, H, W), box (B, 4, H, W),
        objectness (B, 1, H, W)."""
        reg_feat = reg_convs(x)
        return conv_cls(cls_convs(x)), conv_reg(reg_feat), conv_obj(reg_feat)

    def forward(self, feats):
        """Three lists over the levels: class logits, boxes, objectness."""
        outs = [
            self.forward_single(x, *modules)
            for x, *modules in zip(
                feats,
                self.multi_level_cls_convs,
                self.multi_level_reg_convs,
                self.multi_level_conv_cls,
                self.multi_level_conv_reg,
                self.multi_level_conv_obj,
            )
        ]
        return tuple(map(list, zip(*outs)))

    def _flat_outputs(self, cls_scores, bbox_preds, objectnesses):
        """(B, N, C) class logits, (B, N, 4) raw boxes, (B, N) objectness
        logits and the (N, 4) priors ``x, y, stride_w, stride_h``."""
        priors = self.prior_generator.grid_priors(
            [s.shape[2:] for s in cls_scores],
            dtype=cls_scores[0].dtype,
            device=cls_scores[0].device,
            with_stride=True,
        )
        return (
            flatten_maps(cls_scores, self.cls_out_channels),
            flatten_maps(bbox_preds, 4),
            flatten_maps(objectnesses, 1)[..., 0],
            torch.cat(priors),
        )

    @staticmethod
    def _bbox_decode(priors, bbox_preds):
        """(N, 4) priors, (..., N, 4) raw predictions -> x1y1x2y2 boxes."""
        centers = bbox_preds[..., :2] * priors[:, 2:] + priors[:, :2]
        half = bbox_preds[..., 2:].exp() * priors[:, 2:] / 2
        return torch.cat([centers - half, centers + half], dim=-1)

    @force_fp32(apply_to=('cls_scores', 'bbox_preds', 'objectnesses'))
    def get_bboxes(
        self,
        cls_scores,
        bbox_preds,
        objectnesses,
        img_metas=None,
        cfg=None,
        rescale=False,
        with_nms=True,
    ):
        """Per image ``(dets (n, 5), labels (n,))``: every point's best
        class, scored ``p(class) * p(object)``, kept above ``score_thr``,
        then class-wise NMS (all survivors, no ``max_per_img``); without
        NMS ``(bboxes (n, 4), scores (n,), labels (n,))`` of the kept
        points."""
        cfg = self.test_cfg if cfg is None else cfg
        cls_logits, raw_boxes, obj_logits, priors = self._flat_outputs(
            cls_scores, bbox_preds, objectnesses
        )
        bboxes = self._bbox_decode(priors, raw_boxes)
        if rescale:
            scale_factors = np.array([m['scale_factor'] for m in img_metas])
            bboxes = bboxes / bboxes.new_tensor(scale_factors)[:, None]
        results = []
        for cls, boxes, obj in zip(cls_logits, bboxes, obj_logits):
            kept = self._kept_points(cls.sigmoid(), boxes, obj.sigmoid(), cfg)
            results.append(self._nms(*kept, cfg) if with_nms else kept)
        return results

    @staticmethod
    def _kept_points(cls_scores, bboxes, score_factor, cfg):
        """(n, 4) boxes, (n,) scores, (n,) labels of the points whose best
        class scores at least ``score_thr``."""
        max_scores, labels = torch.max(cls_scores, 1)
        scores = max_scores * score_factor
        valid = scores >= cfg['score_thr']
        return bboxes[valid], scores[valid], labels[valid]

    @staticmethod
    def _nms(bboxes, scores, labels, cfg):
        if labels.numel() == 0:
            return torch.cat([bboxes, scores[:, None]], -1), labels
        dets, keep = batched_nms(bboxes, scores, labels, cfg['nms'])
        return dets, labels[keep]

    @force_fp32(apply_to=('cls_scores', 'bbox_preds', 'objectnesses'))
    def loss(
        self,
        cls_scores,
        bbox_preds,
        objectnesses,
        gt_bboxes,
        gt_labels,
        img_metas,
        gt_bboxes_ignore=None,
    ):
        """Class BCE against IoU-weighted one-hot targets and IoU loss on
        the positives, objectness BCE on all points (and L1 on the raw
        positive predictions with ``use_l1``), each summed and divided by
        the (all-GPU mean) number of positives."""
        cls_preds, raw_boxes, obj_preds, priors = self._flat_outputs(
            cls_scores, bbox_preds, objectnesses
        )
        bboxes = self._bbox_decode(priors, raw_boxes)
        targets = [
            self._get_target_single(
                cls_preds[i].detach(),
                obj_preds[i].detach(),
                priors,
                bboxes[i].detach(),
                gt_bboxes[i],
                gt_labels[i],
            )
            for i in range(len(img_metas))
        ]
        pos_masks, cls_targets, obj_targets, bbox_targets, l1_targets, nums = (
            zip(*targets)
        )
        num_pos = cls_preds.new_tensor(float(sum(nums)))
        num_total = max(reduce_mean(num_pos), 1.0)
        pos = torch.cat(pos_masks)
        losses = dict(
            loss_cls=self.loss_cls(
                cls_preds.view(-1, self.num_classes)[pos],
                torch.cat(cls_targets),
            )
            / num_total,
            loss_bbox=self.loss_bbox(
                bboxes.view(-1, 4)[pos], torch.cat(bbox_targets)
            )
            / num_total,
            loss_obj=self.loss_obj(
                obj_preds.view(-1, 1), torch.cat(obj_targets)
            )
            / num_total,
        )
        if self.use_l1:
            losses['loss_l1'] = (
                self.loss_l1(raw_boxes.view(-1, 4)[pos], torch.cat(l1_targets))
                / num_total
            )
        return losses

    @torch.no_grad()
    def _get_target_single(
        self,
        cls_preds,
        objectness,
        priors,
        decoded_bboxes,
        gt_bboxes,
        gt_labels,
    ):
        """One image's targets: foreground mask (N,), class targets (P, C)
        (one-hot times the matched IoU), objectness targets (N, 1), box
        targets (P, 4), L1 targets (P, 4) and the number P of positives.

        Args:
            cls_preds (Tensor): (N, C) logits.
            objectness (Tensor): (N,) logits.
            priors (Tensor): (N, 4) ``x, y, stride_w, stride_h``.
            decoded_bboxes (Tensor): (N, 4) predicted boxes.
        """
        num_priors = priors.size(0)
        gt_bboxes = gt_bboxes.to(decoded_bboxes.dtype)
        if gt_labels.numel() == 0:
            empty = cls_preds.new_zeros((0, 4))
            return (
                cls_preds.new_zeros(num_priors).bool(),
                cls_preds.new_zeros((0, self.num_classes)),
                cls_preds.new_zeros((num_priors, 1)),
                empty,
                empty,
                0,
            )
        # SimOTA measures the centre prior against the gt boxes
        offset_priors = torch.cat(
            [priors[:, :2] + priors[:, 2:] * 0.5, priors[:, 2:]], dim=-1
        )
        assign_result = self.assigner.assign(
            cls_preds.sigmoid() * objectness[:, None].sigmoid(),
            offset_priors,
            decoded_bboxes,
            gt_bboxes,
            gt_labels,
        )
        sampling = self.sampler.sample(assign_result, priors, gt_bboxes)
        pos_inds = sampling.pos_inds
        pos_ious = assign_result.max_overlaps[pos_inds]
        cls_target = F.one_hot(sampling.pos_gt_labels, self.num_classes)
        cls_target = cls_target * pos_ious[:, None]
        obj_target = torch.zeros_like(objectness)[:, None]
        obj_target[pos_inds] = 1
        bbox_target = sampling.pos_gt_bboxes
        l1_target = cls_preds.new_zeros((pos_inds.numel(), 4))
        if self.use_l1:
            l1_target = self._get_l1_target(
                l1_target, bbox_target, priors[pos_inds]
            )
        foreground = torch.zeros_like(objectness).bool()
        foreground[pos_inds] = True
        return (
            foreground,
            cls_target,
            obj_target,
            bbox_target,
            l1_target,
            pos_inds.numel(),
        )

    @staticmethod
    def _get_l1_target(l1_target, gt_bboxes, priors, eps=1e-8):
        """The raw predictions that decode to ``gt_bboxes`` (P, 4)."""
        gt_cxcywh = bbox_xyxy_to_cxcywh(gt_bboxes)
        l1_target[:, :2] = (gt_cxcywh[:, :2] - priors[:, :2]) / priors[:, 2:]
        l1_target[:, 2:] = torch.log(gt_cxcywh[:, 2:] / priors[:, 2:] + eps)
        return l1_target
