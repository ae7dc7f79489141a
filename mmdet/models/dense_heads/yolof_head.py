"""YOLOF's head (Chen et al., "You Only Look One-level Feature", 2021)."""

import torch
import torch.nn as nn
from mmcv.cnn import (
    ConvModule,
    bias_init_with_prob,
    constant_init,
    is_norm,
    normal_init,
)
from mmcv.runner import force_fp32

from mmdet.core import anchor_inside_flags, reduce_mean, unmap
from mmdet.utils.arg_errors import InvalidArgumentError
from ..builder import HEADS
from .anchor_head import AnchorHead

INF = 1e8


@HEADS.register_module()
class YOLOFHead(AnchorHead):
    """One feature level; a classification tower and a box tower of 3x3
    conv-norm-ReLU blocks, with an implicit objectness (predicted by the
    box tower) folded into the class logits:
    ``cls + obj - log(1 + e^cls + e^obj)`` (the logit of
    ``sigmoid(cls) * sigmoid(obj)``).

    Training uses the ``UniformAssigner`` on the decoded predictions; the
    box loss compares the matched predictions with their targets.

    Args:
        num_classes (int): object classes.
        in_channels (int): channels of the input (and of the towers).
        num_cls_convs (int): blocks of the classification tower.
        num_reg_convs (int): blocks of the box tower.
        norm_cfg (dict): normalization of the blocks.
        **kwargs: :class:`AnchorHead`'s arguments.
    """

    def __init__(
        self,
        num_classes,
        in_channels,
        num_cls_convs=2,
        num_reg_convs=4,
        norm_cfg=dict(type='BN', requires_grad=True),
        **kwargs,
    ):
        self.num_cls_convs = num_cls_convs
        self.num_reg_convs = num_reg_convs
        self.norm_cfg = norm_cfg
        super().__init__(num_classes, in_channels, **kwargs)

    def _tower(self, num_convs):
        return nn.Sequential(
            *(
                ConvModule(
                    self.in_channels,
                    self.in_channels,
                    kernel_size=3,
                    padding=1,
                    norm_cfg=self.norm_cfg,
                )
                for _ in range(num_convs)
            )
        )

    def _init_layers(self):
        self.cls_subnet = self._tower(self.num_cls_convs)
        self.bbox_subnet = self._tower(self.num_reg_convs)
        num_priors = self.num_base_priors

        def conv(out_channels):
            return nn.Conv2d(self.in_channels, out_channels, 3, padding=1)

        self.cls_score = conv(num_priors * self.num_classes)
        self.bbox_pred = conv(num_priors * 4)
        self.object_pred = conv(num_priors)

    def init_weights(self):
        """Normal(0, 0.01) convs, unit norms, a 0.01 prior on the class
        logits' bias."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                normal_init(m, mean=0, std=0.01)
            if is_norm(m):
                constant_init(m, 1)
        nn.init.constant_(self.cls_score.bias, bias_init_with_prob(0.01))

    def forward_single(self, feature):
        """(B, C, H, W) -> class logits (B, A*num_classes, H, W) with the
        objectness folded in, box deltas (B, A*4, H, W)."""
        cls_score = self.cls_score(self.cls_subnet(feature))
        n, _, h, w = cls_score.shape
        cls_score = cls_score.view(n, -1, self.num_classes, h, w)
        reg_feat = self.bbox_subnet(feature)
        bbox_reg = self.bbox_pred(reg_feat)
        objectness = self.object_pred(reg_feat).view(n, -1, 1, h, w)
        # clamped exponentials keep huge logits finite
        denom = (
            1.0
            + torch.clamp(cls_score.exp(), max=INF)
            + torch.clamp(objectness.exp(), max=INF)
        )
        normalized = cls_score + objectness - torch.log(denom)
        return normalized.view(n, -1, h, w), bbox_reg

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
        """Focal-type classification loss over all anchors and box loss
        over the matched predictions, both divided by the (all-GPU mean)
        number of positives.

        Args:
            cls_scores, bbox_preds (list[Tensor]): one level each,
                (B, A*num_classes, H, W) and (B, A*4, H, W).
        """
        if len(cls_scores) != 1 or self.prior_generator.num_levels != 1:
            raise InvalidArgumentError(
                'YOLOFHead predicts on one feature level'
            )
        featmap_sizes = [cls_scores[0].shape[-2:]]
        anchor_list, valid_flag_list = self.get_anchors(
            featmap_sizes, img_metas, device=cls_scores[0].device
        )
        num_imgs = len(img_metas)
        bbox_preds_list = (
            bbox_preds[0].permute(0, 2, 3, 1).reshape(num_imgs, -1, 4)
        )
        if gt_bboxes_ignore is None:
            gt_bboxes_ignore = [None] * num_imgs
        per_image = [
            self._yolof_targets_single(
                bbox_preds_list[i],
                anchor_list[i][0],
                valid_flag_list[i][0],
                gt_bboxes[i],
                gt_bboxes_ignore[i],
                gt_labels[i],
                img_metas[i],
            )
            for i in range(num_imgs)
        ]
        if any(res is None for res in per_image):
            return None
        labels, label_weights, num_pos, weights, preds, targets = zip(
            *per_image
        )
        cls_score = cls_scores[0].permute(0, 2, 3, 1)
        cls_score = cls_score.reshape(-1, self.cls_out_channels)
        # an image without positives still counts one, as MMDetection does
        num_total = sum(max(n, 1) for n in num_pos)
        num_total = reduce_mean(cls_score.new_tensor(num_total))
        num_total = num_total.clamp_(1.0).item()
        loss_cls = self.loss_cls(
            cls_score,
            torch.cat(labels),
            torch.cat(label_weights),
            avg_factor=num_total,
        )
        preds = torch.cat(preds)
        if preds.shape[0] == 0:
            loss_bbox = preds.sum() * 0
        else:
            loss_bbox = self.loss_bbox(
                preds,
                torch.cat(targets),
                torch.cat(weights).float(),
                avg_factor=num_total,
            )
        return dict(loss_cls=loss_cls, loss_bbox=loss_bbox)

    def _yolof_targets_single(
        self,
        bbox_preds,
        flat_anchors,
        valid_flags,
        gt_bboxes,
        gt_bboxes_ignore,
        gt_labels,
        img_meta,
    ):
        """One image: labels (N,), label weights (N,), the number of
        positives, and the assigner's matches (weights (M,), predicted
        boxes (M, 4), target boxes (M, 4)); None if no anchor is inside.
        """
        inside = anchor_inside_flags(
            flat_anchors,
            valid_flags,
            img_meta['img_shape'][:2],
            self.train_cfg['allowed_border'],
        )
        if not inside.any():
            return None
        anchors = flat_anchors[inside]
        decoded = self.bbox_coder.decode(anchors, bbox_preds[inside])
        assign_result = self.assigner.assign(
            decoded, anchors, gt_bboxes, gt_bboxes_ignore, gt_labels
        )
        sampling_result = self.sampler.sample(
            assign_result, anchors, gt_bboxes
        )
        labels = anchors.new_full(
            (anchors.size(0),), self.num_classes, dtype=torch.long
        )
        label_weights = anchors.new_zeros(anchors.size(0))
        pos_inds = sampling_result.pos_inds
        if len(pos_inds) > 0:
            labels[pos_inds] = gt_labels[sampling_result.pos_assigned_gt_inds]
            pos_weight = self.train_cfg['pos_weight']
            label_weights[pos_inds] = 1.0 if pos_weight <= 0 else pos_weight
        label_weights[sampling_result.neg_inds] = 1.0
        total = flat_anchors.size(0)
        return (
            unmap(labels, total, inside, fill=self.num_classes),
            unmap(label_weights, total, inside),
            pos_inds.numel(),
            assign_result.get_extra_property('pos_idx'),
            assign_result.get_extra_property('pos_predicted_boxes'),
            assign_result.get_extra_property('target_boxes'),
        )
