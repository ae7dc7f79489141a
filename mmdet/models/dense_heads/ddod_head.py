"""DDOD's head (Chen et al., "Disentangle Your Dense Object Detector").

ATSS-like towers whose first convs are deformable; classification and
regression get their labels from two ATSS assigners that rank anchors by
a cost of the predictions (``sigmoid(score) ** (1 - alpha) * IoU **
alpha``, different alphas), each level's loss is reweighted by how few
positives it has had, and an IoU branch (the test-time score factor) is
trained on the IoU of the predicted boxes.
"""

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, Scale, bias_init_with_prob, normal_init
from mmcv.runner import force_fp32

from mmdet.core import (
    bbox_overlaps,
    build_assigner,
    images_to_levels,
    reduce_mean,
)
from ..builder import HEADS, build_loss
from .anchor_head import TRAIN_CFG_KEYS, AnchorHead
from .atss_head import ATSSHead


@HEADS.register_module()
class DDODHead(AnchorHead):
    """Towers ``cls_convs`` / ``reg_convs`` (the first conv a DCN with
    ``use_dcn``), predictions ``atss_cls``, ``atss_reg`` (deltas) and
    ``atss_iou`` (IoU logits, on the box tower).

    Args:
        num_classes (int): object classes, background excluded.
        in_channels (int): channels of the input feature maps.
        stacked_convs (int): convs per tower.
        conv_cfg (dict, optional): config of the other tower convs.
        use_dcn (bool): the first conv of each tower is deformable.
        norm_cfg (dict): normalization of the tower convs.
        loss_iou (dict): loss of the IoU branch (sigmoid cross-entropy).
        **kwargs: :class:`AnchorHead`'s arguments. ``train_cfg`` has the
            classification ``assigner`` and the ``reg_assigner``.
    """

    train_cfg_keys = TRAIN_CFG_KEYS + ('reg_assigner',)

    def __init__(
        self,
        num_classes,
        in_channels,
        stacked_convs=4,
        conv_cfg=None,
        use_dcn=True,
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
        loss_iou=dict(
            type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0
        ),
        **kwargs,
    ):
        self.stacked_convs = stacked_convs
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.use_dcn = use_dcn
        super().__init__(num_classes, in_channels, **kwargs)
        if self.train_cfg:
            self.cls_assigner = self.assigner
            self.reg_assigner = build_assigner(self.train_cfg['reg_assigner'])
        self.loss_iou = build_loss(loss_iou)

    def _init_layers(self):
        self.relu = nn.ReLU(inplace=True)
        self.cls_convs = self._tower()
        self.reg_convs = self._tower()
        a = self.num_base_priors
        self.atss_cls = nn.Conv2d(
            self.feat_channels, a * self.cls_out_channels, 3, padding=1
        )
        self.atss_reg = nn.Conv2d(self.feat_channels, a * 4, 3, padding=1)
        self.atss_iou = nn.Conv2d(self.feat_channels, a, 3, padding=1)
        num_levels = len(self.prior_generator.strides)
        self.scales = nn.ModuleList([Scale(1.0) for _ in range(num_levels)])
        # positives seen per level since construction (both assigners add
        # to it, as in MMDetection): the levels' loss reweighting
        self.cls_num_pos_samples_per_level = [0.0] * num_levels
        self.reg_num_pos_samples_per_level = [0.0] * num_levels

    def _tower(self):
        dcn = dict(type='DCN', deform_groups=1)
        return nn.ModuleList(
            [
                ConvModule(
                    self.in_channels if i == 0 else self.feat_channels,
                    self.feat_channels,
                    3,
                    stride=1,
                    padding=1,
                    conv_cfg=dcn if i == 0 and self.use_dcn else self.conv_cfg,
                    norm_cfg=self.norm_cfg,
                )
                for i in range(self.stacked_convs)
            ]
        )

    def init_weights(self):
        for m in list(self.cls_convs) + list(self.reg_convs):
            normal_init(m.conv, std=0.01)
        normal_init(self.atss_reg, std=0.01)
        normal_init(self.atss_iou, std=0.01)
        normal_init(self.atss_cls, std=0.01, bias=bias_init_with_prob(0.01))

    def forward(self, feats):
        """Per level: class logits (B, A*C, H, W), deltas (B, A*4, H, W)
        and IoU logits (B, A, H, W), as three lists."""
        outs = [self.forward_single(x, s) for x, s in zip(feats, self.scales)]
        return tuple(map(list, zip(*outs)))

    def forward_single(self, x, scale):
        """One level -> class logits, scaled deltas, IoU logits."""
        cls_feat, reg_feat = x, x
        for conv in self.cls_convs:
            cls_feat = conv(cls_feat)
        for conv in self.reg_convs:
            reg_feat = conv(reg_feat)
        bbox_pred = scale(self.atss_reg(reg_feat)).float()
        return self.atss_cls(cls_feat), bbox_pred, self.atss_iou(reg_feat)

    # -------------------------------------------------------------- loss
    def calc_reweight_factor(self, labels_list):
        """Add this batch's positives per level to the running counts;
        per level ``2 - (n - min) / (max - min)``: 2 for the level with
        the fewest positives so far, 1 for the one with the most."""
        counts = self.cls_num_pos_samples_per_level
        for lvl, labels in enumerate(labels_list):
            pos = (labels >= 0) & (labels < self.num_classes)
            counts[lvl] += int(pos.sum())
        low, high = min(counts), max(counts)
        interval = 1.0 / (high - low + 1e-10)
        return [2.0 - (n - low) * interval for n in counts]

    @force_fp32(apply_to=('cls_scores', 'bbox_preds', 'iou_preds'))
    def loss(
        self,
        cls_scores,
        bbox_preds,
        iou_preds,
        gt_bboxes,
        gt_labels,
        img_metas,
        gt_bboxes_ignore=None,
    ):
        """Per-level reweighted focal loss (labels of the classification
        assigner), GIoU and IoU losses (labels of the regression assigner),
        each averaged over its assigner's positives.

        Returns:
            dict[str, list[Tensor]]: ``loss_cls``, ``loss_bbox``,
            ``loss_iou``.
        """
        featmap_sizes = [s.size()[-2:] for s in cls_scores]
        device = cls_scores[0].device
        anchor_list, valid_flag_list = self.get_anchors(
            featmap_sizes, img_metas, device=device
        )
        args = (
            anchor_list, valid_flag_list, cls_scores, bbox_preds, gt_bboxes,
            gt_labels, img_metas, gt_bboxes_ignore,
        )  # fmt: skip
        cls_targets = self._ddod_targets(*args, self.cls_assigner)
        if cls_targets is None:
            return None
        _, labels, label_weights, _, _, num_pos = cls_targets
        avg = self._num_total_samples(num_pos, device)
        factors = self.calc_reweight_factor(labels)
        losses_cls = [
            self.loss_cls_single(*level, num_total_samples=avg)[0]
            for level in zip(cls_scores, labels, label_weights, factors)
        ]
        reg_targets = self._ddod_targets(*args, self.reg_assigner)
        if reg_targets is None:
            return None
        anchors, labels, label_weights, targets, weights, num_pos = reg_targets
        avg = self._num_total_samples(num_pos, device)
        factors = self.calc_reweight_factor(labels)
        per_level = [
            self.loss_reg_single(*level, num_total_samples=avg)
            for level in zip(anchors, bbox_preds, iou_preds, labels,
                             label_weights, targets, weights, factors)
        ]  # fmt: skip
        losses_bbox, losses_iou = zip(*per_level)
        return dict(
            loss_cls=losses_cls,
            loss_bbox=list(losses_bbox),
            loss_iou=list(losses_iou),
        )

    @staticmethod
    def _num_total_samples(num_pos, device):
        num = torch.tensor(num_pos, dtype=torch.float, device=device)
        return max(reduce_mean(num).item(), 1.0)

    def loss_cls_single(
        self, cls_score, labels, label_weights, reweight_factor,
        num_total_samples,
    ):  # fmt: skip
        """``(loss,)``: one level's focal loss times its factor."""
        loss = self.loss_cls(
            cls_score.permute(0, 2, 3, 1).reshape(-1, self.cls_out_channels),
            labels.reshape(-1),
            label_weights.reshape(-1),
            avg_factor=num_total_samples,
        )
        return (reweight_factor * loss,)

    def loss_reg_single(
        self,
        anchors,
        bbox_pred,
        iou_pred,
        labels,
        label_weights,
        bbox_targets,
        bbox_weights,
        reweight_factor,
        num_total_samples,
    ):
        """One level's GIoU loss of the positives' decoded boxes and the
        IoU branch's loss (targets: those boxes' IoU with their gt, 0 for
        the other anchors with a box weight), both times its factor."""
        anchors = anchors.reshape(-1, 4)
        bbox_pred = bbox_pred.permute(0, 2, 3, 1).reshape(-1, 4)
        iou_pred = iou_pred.permute(0, 2, 3, 1).reshape(-1)
        bbox_targets = bbox_targets.reshape(-1, 4)
        labels = labels.reshape(-1)
        iou_targets = label_weights.new_zeros(labels.shape)
        iou_weights = (bbox_weights.reshape(-1, 4).sum(1) > 0).float()
        pos = ((labels >= 0) & (labels < self.num_classes)).nonzero()
        pos = pos.squeeze(1)
        if len(pos) == 0:
            zero_bbox, zero_iou = bbox_pred.sum() * 0, iou_pred.sum() * 0
            return reweight_factor * zero_bbox, reweight_factor * zero_iou
        pos_anchors = anchors[pos]
        boxes = self.bbox_coder.decode(pos_anchors, bbox_pred[pos])
        gts = self.bbox_coder.decode(pos_anchors, bbox_targets[pos])
        loss_bbox = self.loss_bbox(boxes, gts, avg_factor=num_total_samples)
        iou_targets[pos] = bbox_overlaps(boxes.detach(), gts, is_aligned=True)
        loss_iou = self.loss_iou(
            iou_pred, iou_targets, iou_weights, avg_factor=num_total_samples
        )
        return reweight_factor * loss_bbox, reweight_factor * loss_iou

    # ----------------------------------------------------------- targets
    def _ddod_targets(
        self,
        anchor_list,
        valid_flag_list,
        cls_scores,
        bbox_preds,
        gt_bboxes,
        gt_labels,
        img_metas,
        gt_bboxes_ignore,
        assigner,
    ):
        """Targets from one of the two cost-based assigners: per level
        (B, N_l[, 4]) anchors, labels, label weights, box targets (deltas),
        box weights; then num_total_pos. None if an image has no anchor
        inside it."""
        num_imgs = len(img_metas)
        num_level_anchors = [a.size(0) for a in anchor_list[0]]
        flat_scores = torch.cat(
            [
                s.permute(0, 2, 3, 1).reshape(
                    num_imgs, -1, self.cls_out_channels
                )
                for s in cls_scores
            ],
            1,
        )
        flat_deltas = torch.cat(
            [
                p.permute(0, 2, 3, 1).reshape(num_imgs, -1, 4)
                for p in bbox_preds
            ],
            1,
        )
        ignores = gt_bboxes_ignore or [None] * num_imgs
        per_image = [
            self._get_atss_targets_single(
                torch.cat(anchor_list[i]), torch.cat(valid_flag_list[i]),
                num_level_anchors, gt_bboxes[i], ignores[i], gt_labels[i],
                img_metas[i], assigner, flat_scores[i].detach(),
                flat_deltas[i].detach(),
            )
            for i in range(num_imgs)
        ]  # fmt: skip
        if any(res is None for res in per_image):
            return None
        *per_anchor, pos_inds, _ = zip(*per_image)
        num_total_pos = sum(max(inds.numel(), 1) for inds in pos_inds)
        levels = tuple(
            images_to_levels(list(t), num_level_anchors) for t in per_anchor
        )
        return levels + (num_total_pos,)

    _get_atss_targets_single = ATSSHead._get_atss_targets_single
