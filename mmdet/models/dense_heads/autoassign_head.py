"""AutoAssign's head (Zhu et al., "AutoAssign: Differentiable Label
Assignment for Dense Object Detection")."""

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import bias_init_with_prob, normal_init
from mmcv.runner import force_fp32

from mmdet.core import MlvlPointGenerator, bbox_overlaps, reduce_mean
from ..builder import HEADS
from .base_dense_head import flatten_level_maps
from .fcos_head import FCOSHead

EPS = 1e-12


class CenterPrior(nn.Module):
    """Learned per-class Gaussian prior of where, relative to a gt box's
    centre (in strides), its positives lie.

    Args:
        force_topk (bool): a gt box without any point inside it gets its
            ``topk`` most likely points as if they were inside.
        topk (int): that number of points.
        num_classes (int): classes (one ``mean`` / ``sigma`` row each).
        strides (tuple[int]): stride of every level.
    """

    def __init__(
        self,
        force_topk=False,
        topk=9,
        num_classes=80,
        strides=(8, 16, 32, 64, 128),
    ):
        super().__init__()
        self.mean = nn.Parameter(torch.zeros(num_classes, 2))
        self.sigma = nn.Parameter(torch.ones(num_classes, 2))
        self.strides = strides
        self.force_topk = force_topk
        self.topk = topk

    def forward(
        self, anchor_points_list, gt_bboxes, labels, inside_gt_bbox_mask
    ):
        """Per-level points (n_l, 2), gt boxes (G, 4), labels (G,) and the
        (P, G) inside mask -> (P, G) prior weights (0 outside the boxes)
        and the (possibly ``force_topk``-extended) inside mask."""
        inside = inside_gt_bbox_mask.clone()
        num_points = sum(len(p) for p in anchor_points_list)
        if len(labels) == 0:
            return gt_bboxes.new_zeros(num_points, 0), inside
        centers = (gt_bboxes[:, :2] + gt_bboxes[:, 2:]) / 2
        mean, sigma = self.mean[labels][None], self.sigma[labels][None]
        weights = []
        for points, stride in zip(anchor_points_list, self.strides):
            offset = (points[:, None] - centers[None]) / float(stride)
            dist = (offset - mean) ** 2
            weights.append(torch.exp(-dist / (2 * sigma**2)).prod(dim=-1))
        weights = torch.cat(weights)
        if self.force_topk:
            inside = self._force_topk(weights, inside)
        weights[~inside] = 0
        return weights, inside

    def _force_topk(self, weights, inside):
        empty = (inside.sum(0) == 0).nonzero()[:, 0]
        if empty.numel():
            top = weights[:, empty].topk(self.topk, dim=0).indices
            inside[:, empty] = inside[:, empty].scatter(
                0, top, torch.ones_like(top, dtype=torch.bool)
            )
        return inside


@HEADS.register_module()
class AutoAssignHead(FCOSHead):
    """FCOS's layers (biased tower convs, ReLU'd distances in pixels, an
    "objectness" branch in place of centerness) trained without fixed
    assignment: every point inside a gt box is both a weighted positive
    (weights from the learned :class:`CenterPrior` and the confidence) and
    a weighted negative (weights from the IoU of its box).

    Args:
        force_topk (bool), topk (int): see :class:`CenterPrior`.
        pos_loss_weight, neg_loss_weight, center_loss_weight (float):
            weights of the three losses.
        *args, **kwargs: :class:`FCOSHead`'s arguments.
    """

    def __init__(
        self,
        *args,
        force_topk=False,
        topk=9,
        pos_loss_weight=0.25,
        neg_loss_weight=0.75,
        center_loss_weight=0.75,
        **kwargs,
    ):
        super().__init__(*args, conv_bias=True, **kwargs)
        self.center_prior = CenterPrior(
            force_topk=force_topk,
            topk=topk,
            num_classes=self.num_classes,
            strides=self.strides,
        )
        self.pos_loss_weight = pos_loss_weight
        self.neg_loss_weight = neg_loss_weight
        self.center_loss_weight = center_loss_weight
        self.prior_generator = MlvlPointGenerator(self.strides, offset=0)

    def init_weights(self):
        """As FCOS, then a class prior of 0.02 and box biases of 4."""
        super().init_weights()
        normal_init(self.conv_cls, std=0.01, bias=bias_init_with_prob(0.02))
        normal_init(self.conv_reg, std=0.01, bias=4.0)

    def forward_single(self, x, scale, stride):
        """One level -> class scores, distances (pixels), objectness."""
        cls_score, bbox_pred, _, reg_feat = super(
            FCOSHead, self
        ).forward_single(x)
        objectness = self.conv_centerness(reg_feat)
        bbox_pred = scale(bbox_pred).float().clamp(min=0) * stride
        return cls_score, bbox_pred, objectness

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
        """``loss_pos`` (averaged over the gt boxes), ``loss_neg``
        (over the summed prior weights) and ``loss_center``."""
        featmap_sizes = [s.size()[-2:] for s in cls_scores]
        level_points = self.prior_generator.grid_priors(
            featmap_sizes,
            dtype=bbox_preds[0].dtype,
            device=bbox_preds[0].device,
        )
        insides, targets = self.get_targets(level_points, gt_bboxes)
        priors = []
        for i, (gts, labels) in enumerate(zip(gt_bboxes, gt_labels)):
            prior, insides[i] = self.center_prior(
                level_points, gts, labels, insides[i]
            )
            priors.append(prior)
        points = torch.cat(level_points)
        bbox_preds = flatten_level_maps(bbox_preds, 4)
        cls_probs = flatten_level_maps(cls_scores, self.cls_out_channels)
        cls_probs = cls_probs.sigmoid()
        obj_probs = flatten_level_maps(objectnesses, 1).sigmoid()
        pos_losses, neg_losses = [], []
        for i, labels in enumerate(gt_labels):
            reg_loss, ious = self._box_loss_and_ious(
                points, bbox_preds[i], targets[i], insides[i]
            )
            joint = cls_probs[i] * obj_probs[i]
            pos_losses.append(
                self.get_pos_loss_single(joint, reg_loss, labels, priors[i])
            )
            neg_losses.append(
                self.get_neg_loss_single(joint, labels, ious, insides[i])
            )
        num_gts = sum(len(g) for g in gt_bboxes)
        pos_avg = reduce_mean(bbox_preds.new_tensor(num_gts)).clamp_(min=1)
        neg_avg = sum(p.detach().sum() for p in priors)
        neg_avg = reduce_mean(neg_avg).clamp_(min=1)
        loss_pos = sum(pos_losses) / pos_avg
        loss_neg = sum(neg_losses) / neg_avg
        loss_center = self._center_loss(gt_bboxes, priors, insides)
        if num_gts == 0:
            loss_pos = bbox_preds.sum() * 0
            loss_center = (
                obj_probs.sum() * 0
                + self.center_prior.mean.sum() * 0
                + self.center_prior.sigma.sum() * 0
            )
        return dict(
            loss_pos=loss_pos, loss_neg=loss_neg, loss_center=loss_center
        )

    def _box_loss_and_ious(self, points, bbox_pred, targets, inside):
        """(P, G) unreduced box loss of every (point, gt) pair, and the
        (P, G) IoU of each point's box with its best gt (0 outside)."""
        num_points, num_gts = targets.shape[:2]
        pts = points[:, None].expand(num_points, num_gts, 2).reshape(-1, 2)
        pred = bbox_pred[:, None].expand(num_points, num_gts, 4)
        pred_boxes = self.bbox_coder.decode(pts, pred.reshape(-1, 4))
        gt_boxes = self.bbox_coder.decode(pts, targets.reshape(-1, 4))
        with torch.no_grad():
            ious = bbox_overlaps(pred_boxes, gt_boxes, is_aligned=True)
            ious = ious.reshape(num_points, num_gts)
            if num_gts:
                ious = ious.max(dim=-1, keepdim=True).values
                ious = ious.repeat(1, num_gts)
            ious[~inside] = 0
        loss = self.loss_bbox(
            pred_boxes, gt_boxes, weight=None, reduction_override='none'
        )
        return loss.reshape(num_points, num_gts), ious

    def get_pos_loss_single(self, joint_prob, reg_loss, gt_labels, prior):
        """One image's positive loss: per gt, BCE(1, the confidence- and
        prior-weighted mean of class x box likelihood over its points)."""
        p_pos = joint_prob[:, gt_labels] * torch.exp(-reg_loss)
        weight = torch.exp(p_pos * 3) * prior
        weight = weight / weight.sum(0, keepdim=True).clamp(min=EPS)
        bag = (p_pos * weight).sum(0)
        loss = F.binary_cross_entropy(
            bag, torch.ones_like(bag), reduction='none'
        )
        return loss.sum() * self.pos_loss_weight

    def get_neg_loss_single(self, joint_prob, gt_labels, ious, inside):
        """One image's negative loss: a focal-style BCE(0) of every class
        probability, down-weighted inside a gt box of that class by the
        (per-gt min-max normalised) 1 / (1 - IoU)."""
        weight = torch.ones_like(joint_prob)
        if len(gt_labels):
            gt_idx, point_idx = inside.t().nonzero(as_tuple=True)
            neg = 1 / (1 - ious.t()[gt_idx, point_idx]).clamp_(EPS)
            for g in range(len(gt_labels)):
                sel = gt_idx == g
                if sel.any():
                    x = neg[sel]
                    neg[sel] = (x - x.min() + EPS) / (x.max() - x.min() + EPS)
            weight[point_idx, gt_labels[gt_idx]] = 1 - neg
        prob = joint_prob * weight
        loss = prob**2 * F.binary_cross_entropy(
            prob, torch.zeros_like(prob), reduction='none'
        )
        return loss.sum() * self.neg_loss_weight

    def _center_loss(self, gt_bboxes, priors, insides):
        """Mean over images of (gt count / summed prior weights)."""
        losses = [
            len(gts) / prior.sum().clamp_(min=EPS)
            if inside.any()
            else prior.sum() * 0
            for gts, prior, inside in zip(gt_bboxes, priors, insides)
        ]
        return torch.stack(losses).mean() * self.center_loss_weight

    def get_targets(self, points, gt_bboxes_list):
        """Per image: the (P, G) mask of points strictly inside each gt
        box and the (P, G, 4) left/top/right/bottom distances."""
        points = torch.cat(points)
        out = [self._get_target_single(g, points) for g in gt_bboxes_list]
        return [o[0] for o in out], [o[1] for o in out]

    def _get_target_single(self, gt_bboxes, points):
        xy = points[:, None]
        targets = torch.cat(
            [xy - gt_bboxes[None, :, :2], gt_bboxes[None, :, 2:] - xy], -1
        )
        return targets.min(-1).values > 0, targets
