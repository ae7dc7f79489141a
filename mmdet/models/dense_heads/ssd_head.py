"""SSD's head (Liu et al., 2016), its SSD-Lite variant and the name
MMDetection gives it on Ascend NPUs."""

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule, DepthwiseSeparableConvModule
from mmcv.runner import force_fp32

from mmdet.core import (
    build_assigner,
    build_bbox_coder,
    build_prior_generator,
    build_sampler,
)
from ..builder import HEADS
from ..losses import smooth_l1_loss
from .anchor_head import TEST_CFG_KEYS, TRAIN_CFG_KEYS, AnchorHead
from .base_dense_head import BaseDenseHead, flatten_level_maps
from .cfg_check import check_cfg_keys


@HEADS.register_module()
class SSDHead(AnchorHead):
    """Per level one classification and one box branch; each is
    ``stacked_convs`` convs (none in SSD) and a predictor conv (3x3, or a
    depthwise 3x3 then a 1x1 with ``use_depthwise``, SSD-Lite).

    Softmax classification (``num_classes + 1`` outputs, background
    last), hard negative mining in the loss (``neg_pos_ratio`` negatives
    with the highest loss per positive) and a smooth-L1 box loss with
    ``smoothl1_beta``, both from ``train_cfg``; every anchor assigned by
    ``train_cfg.assigner``, no sampling.

    Args:
        num_classes (int): object classes, background excluded.
        in_channels (tuple[int]): channels of each input level.
        stacked_convs (int): convs before each predictor.
        feat_channels (int): channels of those convs.
        use_depthwise (bool): SSD-Lite predictors and depthwise-separable
            stacked convs.
        conv_cfg, norm_cfg, act_cfg (dict, optional): of the convs that
            precede the predictors.
        anchor_generator (dict): an ``SSDAnchorGenerator`` config.
        bbox_coder (dict): box coder config.
        reg_decoded_bbox (bool): regress decoded boxes.
        train_cfg (dict, optional): ``assigner``, ``smoothl1_beta``,
            ``neg_pos_ratio``, ``allowed_border``, ``pos_weight``.
        test_cfg (dict, optional): see :class:`AnchorHead`.
        init_cfg (dict): uniform Xavier convs with zero bias.
    """

    train_cfg_keys = TRAIN_CFG_KEYS + ('smoothl1_beta', 'neg_pos_ratio')
    test_cfg_keys = TEST_CFG_KEYS

    def __init__(
        self,
        num_classes=80,
        in_channels=(512, 1024, 512, 256, 256, 256),
        stacked_convs=0,
        feat_channels=256,
        use_depthwise=False,
        conv_cfg=None,
        norm_cfg=None,
        act_cfg=None,
        anchor_generator=dict(
            type='SSDAnchorGenerator',
            scale_major=False,
            input_size=300,
            strides=[8, 16, 32, 64, 100, 300],
            ratios=([2], [2, 3], [2, 3], [2, 3], [2], [2]),
            basesize_ratio_range=(0.1, 0.9),
        ),
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            clip_border=True,
            target_means=[0.0, 0.0, 0.0, 0.0],
            target_stds=[1.0, 1.0, 1.0, 1.0],
        ),
        reg_decoded_bbox=False,
        train_cfg=None,
        test_cfg=None,
        init_cfg=dict(
            type='Xavier', layer='Conv2d', distribution='uniform', bias=0
        ),
    ):
        # AnchorHead's constructor builds losses SSD does not have
        BaseDenseHead.__init__(self, init_cfg)
        name = type(self).__name__
        check_cfg_keys(train_cfg, self.train_cfg_keys, f'{name} train_cfg')
        check_cfg_keys(test_cfg, self.test_cfg_keys, f'{name} test_cfg')
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.stacked_convs = stacked_convs
        self.feat_channels = feat_channels
        self.use_depthwise = use_depthwise
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg
        self.cls_out_channels = num_classes + 1
        self.prior_generator = build_prior_generator(anchor_generator)
        # a list: SSD's levels have different numbers of anchors
        self.num_base_priors = self.prior_generator.num_base_priors
        self._init_layers()
        self.bbox_coder = build_bbox_coder(bbox_coder)
        self.reg_decoded_bbox = reg_decoded_bbox
        self.use_sigmoid_cls = False
        self.cls_focal_loss = False
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        self.sampling = False
        if train_cfg:
            self.assigner = build_assigner(train_cfg['assigner'])
            self.sampler = build_sampler(
                dict(type='PseudoSampler'), context=self
            )
        self.fp16_enabled = False

    def _conv(self, in_channels, out_channels, groups=1):
        """A 3x3 conv-norm-act of a branch (depthwise-separable for the
        stacked convs of SSD-Lite)."""
        kwargs = dict(
            padding=1,
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg,
        )
        if self.use_depthwise and groups == 1:
            return DepthwiseSeparableConvModule(
                in_channels, out_channels, 3, **kwargs
            )
        return ConvModule(
            in_channels, out_channels, 3, groups=groups, **kwargs
        )

    def _branch(self, in_channels, out_channels):
        """nn.Sequential: stacked convs, then the predictor."""
        layers = []
        for _ in range(self.stacked_convs):
            layers.append(self._conv(in_channels, self.feat_channels))
            in_channels = self.feat_channels
        if self.use_depthwise:
            layers.append(
                self._conv(in_channels, in_channels, groups=in_channels)
            )
        kernel = 1 if self.use_depthwise else 3
        layers.append(
            nn.Conv2d(
                in_channels, out_channels, kernel, padding=(kernel - 1) // 2
            )
        )
        return nn.Sequential(*layers)

    def _init_layers(self):
        self.cls_convs = nn.ModuleList()
        self.reg_convs = nn.ModuleList()
        for channels, num_priors in zip(
            self.in_channels, self.num_base_priors
        ):
            self.cls_convs.append(
                self._branch(channels, num_priors * self.cls_out_channels)
            )
            self.reg_convs.append(self._branch(channels, num_priors * 4))

    def forward(self, feats):
        """Per level class logits (B, A_l*(C+1), H, W) and box deltas
        (B, A_l*4, H, W), as two lists."""
        cls_scores = [conv(x) for x, conv in zip(feats, self.cls_convs)]
        bbox_preds = [conv(x) for x, conv in zip(feats, self.reg_convs)]
        return cls_scores, bbox_preds

    def loss_single(
        self,
        cls_score,
        bbox_pred,
        anchor,
        labels,
        label_weights,
        bbox_targets,
        bbox_weights,
        num_total_samples,
    ):
        """Losses of one image's anchors (all levels, flattened).

        Classification: cross-entropy summed over the positives and the
        ``neg_pos_ratio * num_pos`` hardest negatives; box: smooth L1 on
        the positives; both divided by ``num_total_samples`` (the batch's
        positives).

        Returns:
            tuple[Tensor]: (1,) classification loss, scalar box loss.
        """
        ce = F.cross_entropy(cls_score, labels, reduction='none')
        ce = ce * label_weights
        is_pos = (labels >= 0) & (labels < self.num_classes)
        neg_ce = ce[labels == self.num_classes]
        num_neg = min(
            self.train_cfg['neg_pos_ratio'] * int(is_pos.sum()),
            neg_ce.numel(),
        )
        hard_neg_ce = neg_ce.topk(num_neg)[0].sum()
        loss_cls = (ce[is_pos].sum() + hard_neg_ce) / num_total_samples
        if self.reg_decoded_bbox:
            bbox_pred = self.bbox_coder.decode(anchor, bbox_pred)
        loss_bbox = smooth_l1_loss(
            bbox_pred,
            bbox_targets,
            bbox_weights,
            beta=self.train_cfg['smoothl1_beta'],
            avg_factor=num_total_samples,
        )
        return loss_cls[None], loss_bbox

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
        """Losses of the batch.

        Returns:
            dict[str, list[Tensor]]: ``loss_cls`` and ``loss_bbox``, one
            entry per image (normalised by the batch's positives).
        """
        featmap_sizes = [score.shape[-2:] for score in cls_scores]
        anchor_list, valid_flag_list = self.get_anchors(
            featmap_sizes, img_metas, device=cls_scores[0].device
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
        labels, label_weights, bbox_targets, bbox_weights, num_pos = batch[:5]
        cls_score = flatten_level_maps(cls_scores, self.cls_out_channels)
        bbox_pred = flatten_level_maps(bbox_preds, 4)
        losses_cls, losses_bbox = [], []
        for i, anchors in enumerate(anchor_list):
            loss_cls, loss_bbox = self.loss_single(
                cls_score[i],
                bbox_pred[i],
                torch.cat(anchors),
                labels[i],
                label_weights[i],
                bbox_targets[i],
                bbox_weights[i],
                num_pos,
            )
            losses_cls.append(loss_cls)
            losses_bbox.append(loss_bbox)
        return dict(loss_cls=losses_cls, loss_bbox=losses_bbox)


@HEADS.register_module()
class AscendSSDHead(SSDHead):
    """MMDetection's name for :class:`SSDHead` on Ascend NPUs (there a
    batched target computation; the same layers, losses and outputs)."""
