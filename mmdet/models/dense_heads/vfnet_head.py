"""VarifocalNet's head (Zhang et al., "VarifocalNet: An IoU-aware Dense
Object Detector").

An FCOS-like head whose box is refined by a 3x3 deformable conv sampling a
star of nine points on the first box (centre, corners, side midpoints); the
classifier uses the same star and predicts IoU-aware scores (trained with
the varifocal loss against the refined box's IoU). Points are labelled by
ATSS on one square anchor per position (or by FCOS's rule).
"""

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, Scale
from mmcv.runner import force_fp32

from mmdet.core import (
    MlvlPointGenerator,
    bbox_overlaps,
    build_assigner,
    build_prior_generator,
    build_sampler,
    reduce_mean,
)
from mmdet.utils.arg_errors import InvalidArgumentError
from ..builder import HEADS, build_loss
from ..utils.deform_conv import DeformConv2d
from .anchor_free_head import AnchorFreeHead
from .anchor_head import AnchorHead
from .atss_head import ATSSHead
from .fcos_head import INF, FCOSHead

# star of the 3x3 deformable conv: for each kernel point (row-major), the
# box side (index into l, t, r, b) giving its dy and its dx; -1 keeps the
# point on the position itself. Signs: l and t point up/left.
_STAR_SIDES = (
    ((1, 0), (1, -1), (1, 2)),
    ((-1, 0), (-1, -1), (-1, 2)),
    ((3, 0), (3, -1), (3, 2)),
)


def star_offsets(distances):
    """(B, 4, H, W) ``l, t, r, b`` in feature cells -> (B, 18, H, W)
    offsets (dy, dx per kernel point) moving the regular 3x3 grid onto the
    box's star: corners, side midpoints and the centre."""
    left, top, right, bottom = distances.unbind(1)
    zero = torch.zeros_like(left)
    side = {0: -left, 1: -top, 2: right, 3: bottom, -1: zero}
    points = []
    for row, row_sides in enumerate(_STAR_SIDES):
        for col, (dy_side, dx_side) in enumerate(row_sides):
            # the regular grid already sits at (row - 1, col - 1)
            points.append(side[dy_side] - (row - 1))
            points.append(side[dx_side] - (col - 1))
    return torch.stack(points, 1)


@HEADS.register_module()
class VFNetHead(FCOSHead):
    """FCOS towers, then: an initial box (``vfnet_reg_conv`` ->
    ``vfnet_reg``, exp-activated distances times ``reg_denom`` or stride),
    a refined box (star deformable conv ``vfnet_reg_refine_dconv`` ->
    ``vfnet_reg_refine``, exp factors on the initial box) and IoU-aware
    class scores (``vfnet_cls_dconv`` -> ``vfnet_cls``).

    Args:
        num_classes (int): object classes, background excluded.
        in_channels (int): channels of the input feature maps.
        regress_ranges (tuple[tuple[int, int]]): FCOS ranges; their upper
            ends are the levels' ``reg_denoms`` (the last: twice the one
            before).
        center_sampling, center_sample_radius: FCOS targets' options.
        sync_num_pos (bool): average the positives over the GPUs.
        gradient_mul (float): share of the gradient the star offsets pass
            back into the initial box.
        bbox_norm_type (str): 'reg_denom' or 'stride'.
        loss_cls_fl (dict): focal loss used when ``use_vfl`` is False.
        use_vfl (bool): varifocal loss on IoU targets.
        loss_cls, loss_bbox, loss_bbox_refine (dict): the losses.
        norm_cfg (dict): normalization of the towers.
        use_atss (bool): ATSS targets (else FCOS's).
        reg_decoded_bbox (bool): kept for MMDetection's signature (boxes
            are always regressed decoded).
        anchor_generator (dict): the ATSS anchors; its ``center_offset``
            also places the points when ``use_atss``.
        init_cfg (dict): initialization config.
        **kwargs: :class:`AnchorFreeHead`'s arguments.
    """

    def __init__(
        self,
        num_classes,
        in_channels,
        regress_ranges=(
            (-1, 64),
            (64, 128),
            (128, 256),
            (256, 512),
            (512, INF),
        ),
        center_sampling=False,
        center_sample_radius=1.5,
        sync_num_pos=True,
        gradient_mul=0.1,
        bbox_norm_type='reg_denom',
        loss_cls_fl=dict(
            type='FocalLoss',
            use_sigmoid=True,
            gamma=2.0,
            alpha=0.25,
            loss_weight=1.0,
        ),
        use_vfl=True,
        loss_cls=dict(
            type='VarifocalLoss',
            use_sigmoid=True,
            alpha=0.75,
            gamma=2.0,
            iou_weighted=True,
            loss_weight=1.0,
        ),
        loss_bbox=dict(type='GIoULoss', loss_weight=1.5),
        loss_bbox_refine=dict(type='GIoULoss', loss_weight=2.0),
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
        use_atss=True,
        reg_decoded_bbox=True,
        anchor_generator=dict(
            type='AnchorGenerator',
            ratios=[1.0],
            octave_base_scale=8,
            scales_per_octave=1,
            center_offset=0.0,
            strides=[8, 16, 32, 64, 128],
        ),
        init_cfg=dict(
            type='Normal',
            layer='Conv2d',
            std=0.01,
            override=dict(
                type='Normal', name='vfnet_cls', std=0.01, bias_prob=0.01
            ),
        ),
        **kwargs,
    ):
        if bbox_norm_type not in ('reg_denom', 'stride'):
            raise InvalidArgumentError(
                f"bbox_norm_type must be 'reg_denom' or 'stride', got "
                f'{bbox_norm_type!r}'
            )
        self.dcn_kernel, self.dcn_pad = 3, 1
        AnchorFreeHead.__init__(
            self,
            num_classes,
            in_channels,
            loss_cls=loss_cls if use_vfl else loss_cls_fl,
            loss_bbox=loss_bbox,
            norm_cfg=norm_cfg,
            init_cfg=init_cfg,
            **kwargs,
        )
        self.regress_ranges = regress_ranges
        self.reg_denoms = [r[-1] for r in regress_ranges]
        self.reg_denoms[-1] = self.reg_denoms[-2] * 2
        self.center_sampling = center_sampling
        self.center_sample_radius = center_sample_radius
        self.norm_on_bbox = False
        self.centerness_on_reg = False
        self.sync_num_pos = sync_num_pos
        self.bbox_norm_type = bbox_norm_type
        self.gradient_mul = gradient_mul
        self.use_vfl = use_vfl
        self.loss_bbox_refine = build_loss(loss_bbox_refine)
        self.use_atss = use_atss
        self.reg_decoded_bbox = reg_decoded_bbox
        if self.train_cfg:
            self.assigner = build_assigner(self.train_cfg['assigner'])
            self.sampler = build_sampler(
                dict(type='PseudoSampler'), context=self
            )
        self.anchor_center_offset = anchor_generator['center_offset']
        self.atss_prior_generator = build_prior_generator(anchor_generator)
        self.fcos_prior_generator = MlvlPointGenerator(
            anchor_generator['strides'],
            self.anchor_center_offset if use_atss else 0.5,
        )
        self.prior_generator = self.fcos_prior_generator

    def _init_layers(self):
        self.cls_convs = self._tower()
        self.reg_convs = self._tower()
        self.relu = nn.ReLU(inplace=True)
        self.vfnet_reg_conv = ConvModule(
            self.feat_channels,
            self.feat_channels,
            3,
            stride=1,
            padding=1,
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg,
            bias=self.conv_bias,
        )
        self.vfnet_reg = nn.Conv2d(self.feat_channels, 4, 3, padding=1)
        self.scales = nn.ModuleList([Scale(1.0) for _ in self.strides])
        self.vfnet_reg_refine_dconv = self._star_dconv()
        self.vfnet_reg_refine = nn.Conv2d(self.feat_channels, 4, 3, padding=1)
        self.scales_refine = nn.ModuleList([Scale(1.0) for _ in self.strides])
        self.vfnet_cls_dconv = self._star_dconv()
        self.vfnet_cls = nn.Conv2d(
            self.feat_channels, self.cls_out_channels, 3, padding=1
        )

    def _star_dconv(self):
        return DeformConv2d(
            self.feat_channels,
            self.feat_channels,
            self.dcn_kernel,
            1,
            padding=self.dcn_pad,
        )

    def forward(self, feats):
        """Per level, lists of class scores (B, C, H, W), initial boxes
        (B, 4, H, W) and refined boxes (B, 4, H, W) as pixel distances
        ``l, t, r, b``; in eval mode only the scores and refined boxes."""
        outs = [
            self.forward_single(x, *args)
            for x, *args in zip(
                feats,
                self.scales,
                self.scales_refine,
                self.strides,
                self.reg_denoms,
            )
        ]
        return tuple(map(list, zip(*outs)))

    def forward_single(self, x, scale, scale_refine, stride, reg_denom):
        """One level -> scores, initial and refined distances (training),
        or scores and refined distances (eval)."""
        cls_feat, reg_feat = x, x
        for layer in self.cls_convs:
            cls_feat = layer(cls_feat)
        for layer in self.reg_convs:
            reg_feat = layer(reg_feat)
        unit = reg_denom if self.bbox_norm_type == 'reg_denom' else stride
        bbox_pred = (
            scale(self.vfnet_reg(self.vfnet_reg_conv(reg_feat))).float().exp()
            * unit
        )
        offset = self.star_dcn_offset(bbox_pred, self.gradient_mul, stride)
        offset = offset.to(reg_feat.dtype)
        reg_feat = self.relu(self.vfnet_reg_refine_dconv(reg_feat, offset))
        refine = scale_refine(self.vfnet_reg_refine(reg_feat)).float().exp()
        bbox_pred_refine = refine * bbox_pred.detach()
        cls_feat = self.relu(self.vfnet_cls_dconv(cls_feat, offset))
        cls_score = self.vfnet_cls(cls_feat)
        if self.training:
            return cls_score, bbox_pred, bbox_pred_refine
        return cls_score, bbox_pred_refine

    def star_dcn_offset(self, bbox_pred, gradient_mul, stride):
        """(B, 4, H, W) pixel distances -> (B, 18, H, W) star offsets in
        feature cells; only ``gradient_mul`` of the gradient flows back."""
        scaled = bbox_pred.detach() + gradient_mul * (
            bbox_pred - bbox_pred.detach()
        )
        return star_offsets(scaled / stride)

    @force_fp32(apply_to=('cls_scores', 'bbox_preds', 'bbox_preds_refine'))
    def loss(
        self,
        cls_scores,
        bbox_preds,
        bbox_preds_refine,
        gt_bboxes,
        gt_labels,
        img_metas,
        gt_bboxes_ignore=None,
    ):
        """Varifocal (or focal) loss on the scores and GIoU losses of the
        initial and refined boxes, each weighted by its IoU with the gt.

        Returns:
            dict[str, Tensor]: ``loss_cls``, ``loss_bbox``, ``loss_bbox_rf``.
        """
        featmap_sizes = [s.size()[-2:] for s in cls_scores]
        points = self.fcos_prior_generator.grid_priors(
            featmap_sizes, bbox_preds[0].dtype, bbox_preds[0].device
        )
        labels, label_weights, bbox_targets, _ = self.get_targets(
            cls_scores, points, gt_bboxes, gt_labels, img_metas,
            gt_bboxes_ignore,
        )  # fmt: skip
        num_imgs = cls_scores[0].size(0)
        flat_cls = torch.cat(
            [
                s.permute(0, 2, 3, 1).reshape(-1, self.cls_out_channels)
                for s in cls_scores
            ]
        )
        flat_init = _flatten_boxes(bbox_preds)
        flat_refine = _flatten_boxes(bbox_preds_refine)
        flat_labels = torch.cat(labels)
        flat_targets = torch.cat(bbox_targets)
        flat_points = torch.cat([p.repeat(num_imgs, 1) for p in points])

        pos_inds = torch.where(
            (flat_labels >= 0) & (flat_labels < self.num_classes)
        )[0]
        num_pos = len(pos_inds)
        avg_factor = num_pos
        if self.sync_num_pos:
            avg_factor = max(
                reduce_mean(pos_inds.new_tensor(num_pos).float()).item(), 1.0
            )
        pos_points = flat_points[pos_inds]
        pos_gt = self.bbox_coder.decode(pos_points, flat_targets[pos_inds])
        loss_bbox, _ = self._box_loss(
            self.loss_bbox, pos_points, flat_init[pos_inds], pos_gt
        )
        loss_bbox_rf, pos_ious = self._box_loss(
            self.loss_bbox_refine, pos_points, flat_refine[pos_inds], pos_gt
        )
        if self.use_vfl:
            iou_targets = torch.zeros_like(flat_cls)
            iou_targets[pos_inds, flat_labels[pos_inds]] = pos_ious
            loss_cls = self.loss_cls(
                flat_cls, iou_targets, avg_factor=avg_factor
            )
        else:
            loss_cls = self.loss_cls(
                flat_cls,
                flat_labels,
                weight=label_weights,
                avg_factor=avg_factor,
            )
        return dict(
            loss_cls=loss_cls, loss_bbox=loss_bbox, loss_bbox_rf=loss_bbox_rf
        )

    def _box_loss(self, loss_fn, points, distances, gt_boxes):
        """GIoU-type loss of the positives' boxes, weighted by (and
        averaged over the sum of) their detached IoUs with the gt; also
        returns those IoUs (n,)."""
        boxes = self.bbox_coder.decode(points, distances)
        ious = bbox_overlaps(boxes, gt_boxes, is_aligned=True).clamp(min=1e-6)
        ious = ious.detach()
        avg_factor = reduce_mean(ious.sum()).clamp_(min=1).item()
        if len(points) == 0:
            return distances.sum() * 0, ious
        loss = loss_fn(boxes, gt_boxes, weight=ious, avg_factor=avg_factor)
        return loss, ious

    def get_targets(
        self,
        cls_scores,
        mlvl_points,
        gt_bboxes,
        gt_labels,
        img_metas,
        gt_bboxes_ignore,
    ):
        """Per-level labels (B * N_l,) and distance targets (B * N_l, 4),
        with the label weights and box weights of all levels (None with
        FCOS targets)."""
        if self.use_atss:
            return self.get_atss_targets(
                cls_scores,
                mlvl_points,
                gt_bboxes,
                gt_labels,
                img_metas,
                gt_bboxes_ignore,
            )
        labels, targets = FCOSHead.get_targets(
            self, mlvl_points, gt_bboxes, gt_labels
        )
        return labels, None, targets, None

    def get_anchors(self, featmap_sizes, img_metas, device='cuda'):
        """ATSS anchors and their valid flags for every image (see
        :meth:`AnchorHead.get_anchors`)."""
        mlvl_anchors = self.atss_prior_generator.grid_priors(
            featmap_sizes, device=device
        )
        valid_flags = [
            self.atss_prior_generator.valid_flags(
                featmap_sizes, meta['pad_shape'], device
            )
            for meta in img_metas
        ]
        return [mlvl_anchors for _ in img_metas], valid_flags

    def get_atss_targets(
        self,
        cls_scores,
        mlvl_points,
        gt_bboxes,
        gt_labels,
        img_metas,
        gt_bboxes_ignore=None,
    ):
        """ATSS labels of the square anchors, with the gt boxes turned into
        distances from the points; None if an image has no anchor inside."""
        featmap_sizes = [s.size()[-2:] for s in cls_scores]
        anchor_list, valid_flag_list = self.get_anchors(
            featmap_sizes, img_metas, device=cls_scores[0].device
        )
        targets = ATSSHead.get_targets(
            self,
            anchor_list,
            valid_flag_list,
            gt_bboxes,
            img_metas,
            gt_bboxes_ignore_list=gt_bboxes_ignore,
            gt_labels_list=gt_labels,
        )
        if targets is None:
            return None
        _, labels, label_weights, boxes, bbox_weights, _, _ = targets
        num_imgs = len(img_metas)
        distances = [
            self.bbox_coder.encode(p.repeat(num_imgs, 1), b.reshape(-1, 4))
            for p, b in zip(mlvl_points, boxes)
        ]
        return (
            [lab.reshape(-1) for lab in labels],
            torch.cat([w.reshape(-1) for w in label_weights]),
            distances,
            torch.cat([w.reshape(-1) for w in bbox_weights]),
        )

    # ATSS's per-image target path, shared rather than copied
    _get_atss_targets_single = ATSSHead._get_atss_targets_single
    _sampled_targets = AnchorHead._sampled_targets
    _pos_bbox_targets = AnchorHead._pos_bbox_targets


def _flatten_boxes(maps):
    """Per-level (B, 4, H, W) -> (sum(B*H*W), 4), level-major."""
    return torch.cat([m.permute(0, 2, 3, 1).reshape(-1, 4) for m in maps])
