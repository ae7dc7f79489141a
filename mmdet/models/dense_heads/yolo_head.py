"""YOLOv3's head (Redmon and Farhadi, "YOLOv3: An Incremental
Improvement", 2018)."""

import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import (
    ConvModule,
    bias_init_with_prob,
    constant_init,
    is_norm,
    normal_init,
)
from mmcv.runner import force_fp32

from mmdet.core import (
    build_assigner,
    build_bbox_coder,
    build_prior_generator,
    build_sampler,
    multiclass_nms,
)
from mmdet.utils.arg_errors import InvalidArgumentError
from ..builder import HEADS, build_loss
from .base_dense_head import BaseDenseHead


@HEADS.register_module()
class YOLOV3Head(BaseDenseHead):
    """Per level a 3x3 conv-norm-act bridge and a 1x1 predictor of
    ``5 + num_classes`` attributes per anchor: x, y (sigmoid offsets in
    the cell), w, h (log scales of the anchor), objectness, class logits.

    Args:
        num_classes (int): object classes.
        in_channels (list[int]): channels of each input level.
        out_channels (list[int]): channels of each bridge.
        anchor_generator (dict): a ``YOLOAnchorGenerator`` config.
        bbox_coder (dict): a ``YOLOBBoxCoder`` config.
        featmap_strides (list[int]): stride of each level.
        one_hot_smoother (float): label smoothing of the class targets.
        conv_cfg, norm_cfg, act_cfg (dict): of the bridges.
        loss_cls, loss_conf, loss_xy, loss_wh (dict): the four losses.
        train_cfg (dict, optional): ``assigner`` (a ``GridAssigner``),
            optional ``sampler``.
        test_cfg (dict, optional): ``nms_pre``, ``min_bbox_size``,
            ``score_thr``, ``conf_thr``, ``nms``, ``max_per_img``.
        init_cfg (dict): normal(0, 0.01) predictors.
    """

    def __init__(
        self,
        num_classes,
        in_channels,
        out_channels=(1024, 512, 256),
        anchor_generator=dict(
            type='YOLOAnchorGenerator',
            base_sizes=[
                [(116, 90), (156, 198), (373, 326)],
                [(30, 61), (62, 45), (59, 119)],
                [(10, 13), (16, 30), (33, 23)],
            ],
            strides=[32, 16, 8],
        ),
        bbox_coder=dict(type='YOLOBBoxCoder'),
        featmap_strides=[32, 16, 8],
        one_hot_smoother=0.0,
        conv_cfg=None,
        norm_cfg=dict(type='BN', requires_grad=True),
        act_cfg=dict(type='LeakyReLU', negative_slope=0.1),
        loss_cls=dict(
            type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0
        ),
        loss_conf=dict(
            type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0
        ),
        loss_xy=dict(
            type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0
        ),
        loss_wh=dict(type='MSELoss', loss_weight=1.0),
        train_cfg=None,
        test_cfg=None,
        init_cfg=dict(
            type='Normal', std=0.01, override=dict(name='convs_pred')
        ),
    ):
        super().__init__(init_cfg)
        if not len(in_channels) == len(out_channels) == len(featmap_strides):
            raise InvalidArgumentError(
                'in_channels, out_channels and featmap_strides need one '
                'entry per level'
            )
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.featmap_strides = featmap_strides
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        if train_cfg:
            self.assigner = build_assigner(train_cfg['assigner'])
            sampler_cfg = train_cfg.get('sampler', dict(type='PseudoSampler'))
            self.sampler = build_sampler(sampler_cfg, context=self)
        self.fp16_enabled = False
        self.one_hot_smoother = one_hot_smoother
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg
        self.bbox_coder = build_bbox_coder(bbox_coder)
        self.prior_generator = build_prior_generator(anchor_generator)
        self.loss_cls = build_loss(loss_cls)
        self.loss_conf = build_loss(loss_conf)
        self.loss_xy = build_loss(loss_xy)
        self.loss_wh = build_loss(loss_wh)
        self.num_base_priors = self.prior_generator.num_base_priors[0]
        if len(self.prior_generator.num_base_priors) != len(featmap_strides):
            raise InvalidArgumentError(
                'the anchor generator needs one level per stride'
            )
        self._init_layers()

    @property
    def anchor_generator(self):
        warnings.warn('anchor_generator is deprecated, use prior_generator')
        return self.prior_generator

    @property
    def num_anchors(self):
        warnings.warn('num_anchors is deprecated, use num_base_priors')
        return self.num_base_priors

    @property
    def num_levels(self):
        """int: number of feature levels."""
        return len(self.featmap_strides)

    @property
    def num_attrib(self):
        """int: x, y, w, h, objectness and the class logits."""
        return 5 + self.num_classes

    def _init_layers(self):
        self.convs_bridge = nn.ModuleList()
        self.convs_pred = nn.ModuleList()
        for in_ch, out_ch in zip(self.in_channels, self.out_channels):
            self.convs_bridge.append(
                ConvModule(
                    in_ch,
                    out_ch,
                    3,
                    padding=1,
                    conv_cfg=self.conv_cfg,
                    norm_cfg=self.norm_cfg,
                    act_cfg=self.act_cfg,
                )
            )
            self.convs_pred.append(
                nn.Conv2d(out_ch, self.num_base_priors * self.num_attrib, 1)
            )

    def init_weights(self):
        """Normal(0, 0.01) convs, unit norms; objectness biases for about
        8 objects in a 608 px image, class biases for a 0.01 prior."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                normal_init(m, mean=0, std=0.01)
            if is_norm(m):
                constant_init(m, 1)
        for conv_pred, stride in zip(self.convs_pred, self.featmap_strides):
            bias = conv_pred.bias.data.view(self.num_base_priors, -1)
            bias[:, 4] = bias_init_with_prob(8 / (608 / stride) ** 2)
            bias[:, 5:] = bias_init_with_prob(0.01)

    def forward(self, feats):
        """A one-tuple holding the per-level maps (B, A*(5+C), H, W)."""
        if len(feats) != self.num_levels:
            raise InvalidArgumentError(
                f'expected {self.num_levels} feature levels'
            )
        pred_maps = tuple(
            pred(bridge(x))
            for x, bridge, pred in zip(
                feats, self.convs_bridge, self.convs_pred
            )
        )
        return (pred_maps,)

    def _flatten(self, pred_maps):
        """Per-level maps -> (B, N, 5 + C) with all levels concatenated."""
        return torch.cat(
            [
                p.permute(0, 2, 3, 1).reshape(p.size(0), -1, self.num_attrib)
                for p in pred_maps
            ],
            dim=1,
        )

    def _level_strides(self, featmap_sizes, device):
        """(N,) stride of every anchor, all levels concatenated."""
        counts = [h * w * self.num_base_priors for h, w in featmap_sizes]
        return torch.cat(
            [
                torch.full((n,), float(s), device=device)
                for n, s in zip(counts, self.featmap_strides)
            ]
        )

    @force_fp32(apply_to=('pred_maps',))
    def get_bboxes(
        self, pred_maps, img_metas, cfg=None, rescale=False, with_nms=True
    ):
        """Detections of every image: class scores (sigmoid) above
        ``score_thr``, multiplied by the objectness, then NMS per class;
        anchors with an objectness under ``conf_thr`` are dropped first.

        Returns:
            list[tuple[Tensor, Tensor]]: per image (n, 5) boxes with scores
            and (n,) labels.
        """
        cfg = self.test_cfg if cfg is None else cfg
        featmap_sizes = [p.shape[-2:] for p in pred_maps]
        device = pred_maps[0].device
        anchors = torch.cat(
            self.prior_generator.grid_priors(featmap_sizes, device=device)
        )
        strides = self._level_strides(featmap_sizes, device)
        preds = self._flatten(pred_maps)
        xy_wh = torch.cat([preds[..., :2].sigmoid(), preds[..., 2:4]], -1)
        bboxes = self.bbox_coder.decode(anchors, xy_wh, strides[:, None])
        objectness = preds[..., 4].sigmoid()
        cls_scores = preds[..., 5:].sigmoid()
        if rescale:
            scale_factors = np.array([m['scale_factor'] for m in img_metas])
            bboxes = bboxes / bboxes.new_tensor(scale_factors)[:, None]
        background = cls_scores.new_zeros(cls_scores.shape[:2] + (1,))
        cls_scores = torch.cat([cls_scores, background], dim=-1)
        conf_thr = cfg.get('conf_thr', -1)
        results = []
        for boxes, scores, obj in zip(bboxes, cls_scores, objectness):
            if conf_thr > 0:
                keep = obj >= conf_thr
                boxes, scores, obj = boxes[keep], scores[keep], obj[keep]
            results.append(
                multiclass_nms(
                    boxes,
                    scores,
                    cfg['score_thr'],
                    cfg['nms'],
                    cfg['max_per_img'],
                    score_factors=obj,
                )
            )
        return results

    @force_fp32(apply_to=('pred_maps',))
    def loss(
        self, pred_maps, gt_bboxes, gt_labels, img_metas, gt_bboxes_ignore=None
    ):
        """Four losses per level: class and box-centre BCE and box-size
        MSE on the positives, objectness BCE on positives and negatives.

        Returns:
            dict[str, list[Tensor]]: ``loss_cls``, ``loss_conf``,
            ``loss_xy``, ``loss_wh``, one scalar per level.
        """
        featmap_sizes = [p.shape[-2:] for p in pred_maps]
        device = pred_maps[0].device
        mlvl_anchors = self.prior_generator.grid_priors(
            featmap_sizes, device=device
        )
        anchors = torch.cat(mlvl_anchors)
        strides = self._level_strides(featmap_sizes, device)
        targets = [
            self._get_targets_single(
                anchors,
                torch.cat(
                    self.prior_generator.responsible_flags(
                        featmap_sizes, gt, device
                    )
                ),
                strides,
                gt,
                labels,
            )
            for gt, labels in zip(gt_bboxes, gt_labels)
        ]
        target_map = torch.stack([t[0] for t in targets])
        neg_map = torch.stack([t[1] for t in targets])
        counts = [a.size(0) for a in mlvl_anchors]
        losses = dict(loss_cls=[], loss_conf=[], loss_xy=[], loss_wh=[])
        for pred, target, neg in zip(
            pred_maps, target_map.split(counts, 1), neg_map.split(counts, 1)
        ):
            level = self.loss_single(pred, target, neg)
            for key, value in zip(losses, level):
                losses[key].append(value)
        return losses

    def loss_single(self, pred_map, target_map, neg_map):
        """Losses of one level.

        Args:
            pred_map (Tensor): (B, A*(5+C), H, W).
            target_map (Tensor): (B, H*W*A, 5+C) targets; column 4 is 1 on
                positives.
            neg_map (Tensor): (B, H*W*A) 1 on negatives.
        """
        pred = pred_map.permute(0, 2, 3, 1).reshape(
            pred_map.size(0), -1, self.num_attrib
        )
        pos_mask = target_map[..., 4]
        pos_and_neg = neg_map.float() + pos_mask
        if torch.max(pos_and_neg) > 1.0:
            warnings.warn('There is overlap between pos and neg sample.')
            pos_and_neg = pos_and_neg.clamp(min=0.0, max=1.0)
        pos_mask = pos_mask[..., None]
        loss_cls = self.loss_cls(
            pred[..., 5:], target_map[..., 5:], weight=pos_mask
        )
        loss_conf = self.loss_conf(
            pred[..., 4], target_map[..., 4], weight=pos_and_neg
        )
        loss_xy = self.loss_xy(
            pred[..., :2], target_map[..., :2], weight=pos_mask
        )
        loss_wh = self.loss_wh(
            pred[..., 2:4], target_map[..., 2:4], weight=pos_mask
        )
        return loss_cls, loss_conf, loss_xy, loss_wh

    def _get_targets_single(
        self, anchors, responsible_flags, strides, gt_bboxes, gt_labels
    ):
        """One image's target map (N, 5+C) and negative map (N,) uint8.

        Args:
            anchors (Tensor): (N, 4), all levels.
            responsible_flags (Tensor): (N,) anchors of the cells holding
                a box centre.
            strides (Tensor): (N,) stride of every anchor.
        """
        assign_result = self.assigner.assign(
            anchors, responsible_flags, gt_bboxes
        )
        sampling = self.sampler.sample(assign_result, anchors, gt_bboxes)
        pos = sampling.pos_inds
        target_map = anchors.new_zeros(anchors.size(0), self.num_attrib)
        target_map[pos, :4] = self.bbox_coder.encode(
            sampling.pos_bboxes, sampling.pos_gt_bboxes, strides[pos]
        )
        target_map[pos, 4] = 1
        one_hot = F.one_hot(gt_labels, num_classes=self.num_classes).float()
        smooth = self.one_hot_smoother
        one_hot = one_hot * (1 - smooth) + smooth / self.num_classes
        target_map[pos, 5:] = one_hot[sampling.pos_assigned_gt_inds]
        neg_map = anchors.new_zeros(anchors.size(0), dtype=torch.uint8)
        neg_map[sampling.neg_inds] = 1
        return target_map, neg_map

    def aug_test(self, feats, img_metas, rescale=False):
        """Not provided: YOLOv3's post-processing has no pre-NMS output to
        merge over augmentations."""
        raise NotImplementedError('YOLOV3Head has no aug_test')
