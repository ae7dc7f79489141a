"""Generalized Focal Loss head (Li et al., "Generalized Focal Loss:
Learning Qualified and Distributed Bounding Boxes for Dense Object
Detection").

Each box side is a discrete distribution over ``0 .. reg_max`` strides
(its expectation, :class:`Integral`, is the distance); the class score is
trained as the IoU of the predicted box (quality focal loss) and the side
distributions with the distribution focal loss. Anchors are labelled by
ATSS (one square anchor per position, used only for its centre).
"""

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import Scale
from mmcv.runner import force_fp32

from mmdet.core import bbox_overlaps, reduce_mean
from mmdet.utils.arg_errors import InvalidArgumentError
from ..builder import HEADS, build_loss
from .anchor_head import AnchorHead
from .atss_head import ATSSHead


class Integral(nn.Module):
    """Expectation of per-side distributions: (N, 4 * (reg_max + 1))
    logits -> (N, 4) distances ``sum_i softmax(x)_i * i``.

    Args:
        reg_max (int): the largest value of the support ``0 .. reg_max``.
    """

    def __init__(self, reg_max=16):
        super().__init__()
        self.reg_max = reg_max
        self.register_buffer(
            'project', torch.linspace(0, reg_max, reg_max + 1)
        )

    def forward(self, x):
        prob = F.softmax(x.reshape(-1, self.reg_max + 1), dim=1)
        return F.linear(prob, self.project.type_as(prob)).reshape(-1, 4)


@HEADS.register_module()
class GFLHead(AnchorHead):
    """ATSS-style GroupNorm towers, ``gfl_cls`` (joint class-IoU scores)
    and ``gfl_reg`` (4 * (reg_max + 1) side-distribution logits), a learned
    ``Scale`` per level.

    Args:
        num_classes (int): object classes, background excluded.
        in_channels (int): channels of the input feature maps.
        stacked_convs (int): convs per tower.
        conv_cfg (dict, optional): config of the tower convs.
        norm_cfg (dict): normalization of the tower convs.
        loss_dfl (dict): distribution focal loss.
        bbox_coder (dict): point-to-distance coder.
        reg_max (int): the distributions' largest distance, in strides.
        init_cfg (dict): initialization config.
        **kwargs: :class:`AnchorHead`'s arguments (one anchor per position).
    """

    def __init__(
        self,
        num_classes,
        in_channels,
        stacked_convs=4,
        conv_cfg=None,
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
        loss_dfl=dict(type='DistributionFocalLoss', loss_weight=0.25),
        bbox_coder=dict(type='DistancePointBBoxCoder'),
        reg_max=16,
        init_cfg=dict(
            type='Normal',
            layer='Conv2d',
            std=0.01,
            override=dict(
                type='Normal', name='gfl_cls', std=0.01, bias_prob=0.01
            ),
        ),
        **kwargs,
    ):
        self.stacked_convs = stacked_convs
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.reg_max = reg_max
        super().__init__(
            num_classes,
            in_channels,
            bbox_coder=bbox_coder,
            init_cfg=init_cfg,
            **kwargs,
        )
        self.integral = Integral(self.reg_max)
        self.loss_dfl = build_loss(loss_dfl)

    def _init_layers(self):
        if self.num_base_priors != 1:
            raise InvalidArgumentError(
                f'{type(self).__name__} needs one anchor per position, got '
                f'{self.num_base_priors}'
            )
        self.relu = nn.ReLU(inplace=True)
        self.cls_convs = ATSSHead._tower(self)
        self.reg_convs = ATSSHead._tower(self)
        self.gfl_cls = nn.Conv2d(
            self.feat_channels, self.cls_out_channels, 3, padding=1
        )
        self.gfl_reg = nn.Conv2d(
            self.feat_channels, 4 * (self.reg_max + 1), 3, padding=1
        )
        self.scales = nn.ModuleList(
            [Scale(1.0) for _ in self.prior_generator.strides]
        )

    def forward(self, feats):
        """Per level: class logits (B, C, H, W) and side-distribution
        logits (B, 4 * (reg_max + 1), H, W), as two lists."""
        outs = [self.forward_single(x, s) for x, s in zip(feats, self.scales)]
        return tuple(map(list, zip(*outs)))

    def forward_single(self, x, scale):
        """One level -> class logits and scaled distribution logits."""
        cls_feat, reg_feat = x, x
        for conv in self.cls_convs:
            cls_feat = conv(cls_feat)
        for conv in self.reg_convs:
            reg_feat = conv(reg_feat)
        return self.gfl_cls(cls_feat), scale(self.gfl_reg(reg_feat)).float()

    @staticmethod
    def anchor_center(anchors):
        """(..., 4) anchors -> (..., 2) centres ``x, y``."""
        cx = (anchors[..., 0] + anchors[..., 2]) / 2
        cy = (anchors[..., 1] + anchors[..., 3]) / 2
        return torch.stack([cx, cy], dim=-1)

    # --------------------------------------------------------- test time
    def _level_bbox_pred(self, bbox_pred, level):
        stride = self.prior_generator.strides[level][0]
        return self.integral(bbox_pred.permute(1, 2, 0)) * stride

    def _decode_bboxes(self, priors, bbox_pred, level, img_meta):
        return self.bbox_coder.decode(
            self.anchor_center(priors),
            bbox_pred,
            max_shape=img_meta['img_shape'],
        )

    # ----------------------------------------------------------- targets
    # ATSS labels; box targets are the gt boxes themselves
    get_targets = ATSSHead.get_targets
    _get_atss_targets_single = ATSSHead._get_atss_targets_single

    def _pos_bbox_targets(self, sampling_result):
        return sampling_result.pos_gt_bboxes

    # -------------------------------------------------------------- loss
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
        """Per-level QFL (averaged over the positives), GIoU and DFL
        (averaged over the sum of the positives' weights: their best class
        score).

        Returns:
            dict[str, list[Tensor]]: ``loss_cls``, ``loss_bbox``,
            ``loss_dfl``.
        """
        per_level = self._level_losses(
            cls_scores, bbox_preds, gt_bboxes, gt_labels, img_metas,
            gt_bboxes_ignore,
        )  # fmt: skip
        if per_level is None:
            return None
        losses_cls, losses_bbox, losses_dfl, weight_sums = zip(*per_level)
        avg = reduce_mean(sum(weight_sums)).clamp_(min=1).item()
        return dict(
            loss_cls=list(losses_cls),
            loss_bbox=[loss / avg for loss in losses_bbox],
            loss_dfl=[loss / avg for loss in losses_dfl],
        )

    def _level_losses(
        self,
        cls_scores,
        bbox_preds,
        gt_bboxes,
        gt_labels,
        img_metas,
        gt_bboxes_ignore,
        *per_level_extra,
    ):
        """``loss_single`` of every level (None if an image has no anchor
        inside it); ``per_level_extra`` lists are passed on per level."""
        featmap_sizes = [s.size()[-2:] for s in cls_scores]
        device = cls_scores[0].device
        anchor_list, valid_flag_list = self.get_anchors(
            featmap_sizes, img_metas, device=device
        )
        targets = self.get_targets(
            anchor_list,
            valid_flag_list,
            gt_bboxes,
            img_metas,
            gt_bboxes_ignore_list=gt_bboxes_ignore,
            gt_labels_list=gt_labels,
        )
        if targets is None:
            return None
        anchors, labels, label_weights, bbox_targets, _, num_pos, _ = targets
        num_total_samples = max(
            reduce_mean(
                torch.tensor(num_pos, dtype=torch.float, device=device)
            ).item(),
            1.0,
        )
        return [
            self.loss_single(
                *args, num_total_samples=num_total_samples
            )
            for args in zip(anchors, cls_scores, bbox_preds, labels,
                            label_weights, bbox_targets,
                            self.prior_generator.strides, *per_level_extra)
        ]  # fmt: skip

    def loss_single(
        self,
        anchors,
        cls_score,
        bbox_pred,
        labels,
        label_weights,
        bbox_targets,
        stride,
        num_total_samples,
    ):
        """Losses of one level: QFL (averaged), and GIoU, DFL and the sum
        of the positives' weights (not yet averaged).

        Args:
            anchors (Tensor): (B, N, 4).
            cls_score (Tensor): (B, C, H, W) logits.
            bbox_pred (Tensor): (B, 4 * (reg_max + 1), H, W) logits.
            labels, label_weights (Tensor): (B, N).
            bbox_targets (Tensor): (B, N, 4) gt boxes, pixels.
            stride (tuple[int]): the level's stride.
            num_total_samples (float): positives of the batch.
        """
        flat = self._flatten_level(
            anchors, cls_score, bbox_pred, labels, label_weights, bbox_targets
        )
        pos = self._positive_terms(flat, stride[0])
        return self._losses_from_terms(flat, pos, num_total_samples)

    def _losses_from_terms(self, flat, pos, num_total_samples):
        """QFL, GIoU, DFL and the weight sum from :meth:`_flatten_level`'s
        and :meth:`_positive_terms`' dicts."""
        if pos is None:
            zero = flat['bbox_pred'].sum() * 0
            loss_bbox, loss_dfl = zero, zero
            weight_sum = flat['bbox_pred'].new_tensor(0)
            score = flat['label_weights'].new_zeros(flat['labels'].shape)
        else:
            loss_bbox = self.loss_bbox(
                pos['boxes'], pos['targets'], weight=pos['weight'],
                avg_factor=1.0,
            )  # fmt: skip
            loss_dfl = self.loss_dfl(
                pos['corners'], pos['target_corners'],
                weight=pos['corner_weight'], avg_factor=4.0,
            )  # fmt: skip
            weight_sum = pos['weight'].sum()
            score = pos['score']
        loss_cls = self.loss_cls(
            flat['cls_score'],
            (flat['labels'], score),
            weight=flat['label_weights'],
            avg_factor=num_total_samples,
        )
        return loss_cls, loss_bbox, loss_dfl, weight_sum

    def _flatten_level(
        self, anchors, cls_score, bbox_pred, labels, label_weights, targets
    ):
        """One level's (B, ...) tensors -> a dict of flat (B*N, ...) ones."""
        return dict(
            anchors=anchors.reshape(-1, 4),
            cls_score=cls_score.permute(0, 2, 3, 1).reshape(
                -1, self.cls_out_channels
            ),
            bbox_pred=bbox_pred.permute(0, 2, 3, 1).reshape(
                -1, 4 * (self.reg_max + 1)
            ),
            labels=labels.reshape(-1),
            label_weights=label_weights.reshape(-1),
            bbox_targets=targets.reshape(-1, 4),
        )

    def _positive_terms(self, flat, stride):
        """What the box losses need at the positives, in strides: decoded
        boxes and targets, side logits (4n, reg_max + 1) and target
        distances (4n,), weights (n,) (best class probability) and (4n,),
        the (B*N,) IoU score targets; plus ``inds``. None without
        positives."""
        labels = flat['labels']
        inds = ((labels >= 0) & (labels < self.num_classes)).nonzero()
        inds = inds.squeeze(1)
        if len(inds) == 0:
            return None
        centers = self.anchor_center(flat['anchors'][inds]) / stride
        logits = flat['bbox_pred'][inds]
        weight = flat['cls_score'].detach().sigmoid().max(dim=1)[0][inds]
        boxes = self.bbox_coder.decode(centers, self.integral(logits))
        targets = flat['bbox_targets'][inds] / stride
        score = flat['label_weights'].new_zeros(labels.shape)
        score[inds] = bbox_overlaps(boxes.detach(), targets, is_aligned=True)
        target_corners = self.bbox_coder.encode(centers, targets, self.reg_max)
        return dict(
            inds=inds,
            boxes=boxes,
            targets=targets,
            corners=logits.reshape(-1, self.reg_max + 1),
            target_corners=target_corners.reshape(-1),
            weight=weight,
            corner_weight=weight[:, None].expand(-1, 4).reshape(-1),
            score=score,
        )
