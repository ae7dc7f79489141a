"""FreeAnchor's head (Zhang et al., "FreeAnchor: Learning to Match Anchors
for Visual Object Detection"): RetinaNet's layers trained by a
maximum-likelihood matching instead of fixed IoU assignment."""

import torch
import torch.nn.functional as F

from mmdet.core import bbox_overlaps
from ..builder import HEADS
from .base_dense_head import flatten_level_maps
from .retina_head import RetinaHead

EPS = 1e-12


@HEADS.register_module()
class FreeAnchorRetinaHead(RetinaHead):
    """Each gt box gets a bag of its ``pre_anchor_topk`` best-IoU anchors;
    the positive bag loss pushes up one (mean-max) anchor's class x box
    likelihood, the negative bag loss is a focal loss on the class
    probabilities of anchors unlikely to hold an object.

    Args:
        num_classes (int): object classes, background excluded.
        in_channels (int): channels of the input feature maps.
        stacked_convs (int): convs per tower.
        conv_cfg (dict, optional): config of the tower convs.
        norm_cfg (dict, optional): normalization of the tower convs.
        pre_anchor_topk (int): anchors per bag.
        bbox_thr (float): IoU at or below which a predicted box is surely
            background (the saturated-linear box probability's start).
        gamma (float): focusing exponent of the negative bag loss.
        alpha (float): weight of the positive bag loss (1 - alpha: of the
            negative one).
        **kwargs: :class:`RetinaHead`'s arguments.
    """

    def __init__(
        self,
        num_classes,
        in_channels,
        stacked_convs=4,
        conv_cfg=None,
        norm_cfg=None,
        pre_anchor_topk=50,
        bbox_thr=0.6,
        gamma=2.0,
        alpha=0.5,
        **kwargs,
    ):
        super().__init__(
            num_classes,
            in_channels,
            stacked_convs,
            conv_cfg,
            norm_cfg,
            **kwargs,
        )
        self.pre_anchor_topk = pre_anchor_topk
        self.bbox_thr = bbox_thr
        self.gamma = gamma
        self.alpha = alpha

    def loss(
        self,
        cls_scores,
        bbox_preds,
        gt_bboxes,
        gt_labels,
        img_metas,
        gt_bboxes_ignore=None,
    ):
        """``positive_bag_loss`` (per gt box) and ``negative_bag_loss`` (per
        anchor and class), both averaged over the batch's gt boxes."""
        featmap_sizes = [s.size()[-2:] for s in cls_scores]
        anchor_list, _ = self.get_anchors(
            featmap_sizes, img_metas, device=cls_scores[0].device
        )
        cls_prob = flatten_level_maps(cls_scores, self.cls_out_channels)
        cls_prob = cls_prob.sigmoid()
        bbox_preds = flatten_level_maps(bbox_preds, 4)
        box_probs, pos_losses = [], []
        for anchors, labels, gts, probs, deltas in zip(
            anchor_list, gt_labels, gt_bboxes, cls_prob, bbox_preds
        ):
            anchors = torch.cat(anchors)
            with torch.no_grad():
                box_probs.append(
                    self._anchor_box_prob(anchors, deltas, gts, labels)
                )
            pos_losses.append(
                self._image_positive_loss(anchors, probs, deltas, gts, labels)
            )
        num_pos = sum(len(g) for g in gt_bboxes)
        positive_loss = torch.cat(pos_losses).sum() / max(1, num_pos)
        if num_pos == 0:
            positive_loss = bbox_preds.sum() * 0
        negative_loss = self.negative_bag_loss(
            cls_prob, torch.stack(box_probs)
        ).sum() / max(1, num_pos * self.pre_anchor_topk)
        return dict(
            positive_bag_loss=positive_loss, negative_bag_loss=negative_loss
        )

    def _anchor_box_prob(self, anchors, deltas, gts, labels):
        """(N, C): per anchor and class, the largest probability that the
        anchor's predicted box is one of the gt boxes of that class (IoU
        scaled linearly from ``bbox_thr`` (0) to the gt's best IoU (1))."""
        prob = anchors.new_zeros(self.cls_out_channels, anchors.size(0))
        if len(gts) == 0:
            return prob.t()
        ious = bbox_overlaps(gts, self.bbox_coder.decode(anchors, deltas))
        t1 = self.bbox_thr
        t2 = ious.max(dim=1, keepdim=True).values.clamp(min=t1 + 1e-12)
        obj_prob = ((ious - t1) / (t2 - t1)).clamp(0, 1)
        return prob.index_reduce_(0, labels, obj_prob, 'amax').t()

    def _image_positive_loss(self, anchors, probs, deltas, gts, labels):
        """(k,) positive bag losses of one image's k gt boxes."""
        ious = bbox_overlaps(gts, anchors)
        _, matched = torch.topk(
            ious, self.pre_anchor_topk, dim=1, sorted=False
        )
        cls_prob = probs[matched].gather(
            2, labels.view(-1, 1, 1).expand(-1, self.pre_anchor_topk, 1)
        )
        matched_anchors = anchors[matched]
        targets = self.bbox_coder.encode(
            matched_anchors, gts[:, None].expand_as(matched_anchors)
        )
        loss_bbox = self.loss_bbox(
            deltas[matched], targets, reduction_override='none'
        ).sum(-1)
        return self.positive_bag_loss(
            cls_prob.squeeze(2), torch.exp(-loss_bbox)
        )

    def positive_bag_loss(self, matched_cls_prob, matched_box_prob):
        """(k, topk) class and box likelihoods -> (k,) ``alpha *
        -log(mean-max(P_cls * P_box))``, the mean-max weighting each
        anchor by ``1 / (1 - P)``."""
        prob = matched_cls_prob * matched_box_prob
        weight = 1 / torch.clamp(1 - prob, 1e-12, None)
        weight = weight / weight.sum(dim=1, keepdim=True)
        bag_prob = (weight * prob).sum(dim=1)
        return self.alpha * F.binary_cross_entropy(
            bag_prob, torch.ones_like(bag_prob), reduction='none'
        )

    def negative_bag_loss(self, cls_prob, box_prob):
        """(B, N, C) -> (B, N, C) ``(1 - alpha) * FL(P_cls * (1 - P_box))``
        against background."""
        prob = (cls_prob * (1 - box_prob)).clamp(EPS, 1 - EPS)
        bce = F.binary_cross_entropy(
            prob, torch.zeros_like(prob), reduction='none'
        )
        return (1 - self.alpha) * prob**self.gamma * bce
