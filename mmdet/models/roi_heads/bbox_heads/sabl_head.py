"""SABL's R-CNN box head: classification as usual, each box side located
by bucket classification + offset regression on side-aware features."""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmcv.runner import BaseModule, force_fp32

from mmdet.core import build_bbox_coder, clip_bboxes, multiclass_nms
from mmdet.models.builder import HEADS, build_loss
from mmdet.models.losses import accuracy
from mmdet.utils.arg_errors import check_arg


def _fc_branch(num_fcs, in_channels, out_channels):
    return nn.ModuleList(
        [
            nn.Linear(in_channels if i == 0 else out_channels, out_channels)
            for i in range(num_fcs)
        ]
    )


@HEADS.register_module()
class SABLHead(BaseModule):
    """Side-aware boundary localisation head for Faster / Cascade R-CNN.

    The regression branch convolves the RoI features
    (``reg_pre_convs``), pools them along y into an x-profile and along x
    into a y-profile with learned attention (``reg_conv_att_x/y``),
    refines them with 1-D convs (``reg_post_conv_xs/ys``), upsamples them
    ``reg_feat_up_ratio`` times to ``num_buckets`` positions and predicts,
    per position, a bucket logit (``fc_reg_cls``) and an offset
    (``fc_reg_offset``). Box predictions are the pair (bucket logits,
    offsets), each (K, 4 * ceil(num_buckets / 2)), sides l, r, t, b.

    Args:
        num_classes (int): object classes, background excluded.
        cls_in_channels, reg_in_channels (int): RoI feature channels.
        roi_feat_size (int): RoI feature size; times
            ``reg_feat_up_ratio`` it must equal ``num_buckets``.
        reg_feat_up_ratio (int): upsampling of the side profiles (>= 2).
        reg_pre_kernel, reg_post_kernel (int): conv kernel sizes.
        reg_pre_num, reg_post_num (int): numbers of those convs.
        cls_out_channels (int): width of the classification fcs.
        reg_offset_out_channels, reg_cls_out_channels (int): widths of the
            regression fcs.
        num_cls_fcs, num_reg_fcs (int): numbers of fcs.
        reg_class_agnostic (bool): must be True.
        norm_cfg (dict, optional): norm of the regression convs.
        bbox_coder (dict): a ``BucketingBBoxCoder``.
        loss_cls, loss_bbox_cls, loss_bbox_reg (dict): the losses.
    """

    def __init__(
        self,
        num_classes,
        cls_in_channels=256,
        reg_in_channels=256,
        roi_feat_size=7,
        reg_feat_up_ratio=2,
        reg_pre_kernel=3,
        reg_post_kernel=3,
        reg_pre_num=2,
        reg_post_num=1,
        cls_out_channels=1024,
        reg_offset_out_channels=256,
        reg_cls_out_channels=256,
        num_cls_fcs=1,
        num_reg_fcs=0,
        reg_class_agnostic=True,
        norm_cfg=None,
        bbox_coder=dict(
            type='BucketingBBoxCoder', num_buckets=14, scale_factor=1.7
        ),
        loss_cls=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0
        ),
        loss_bbox_cls=dict(
            type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0
        ),
        loss_bbox_reg=dict(type='SmoothL1Loss', beta=0.1, loss_weight=1.0),
        init_cfg=None,
    ):
        super().__init__(init_cfg)
        self.cls_in_channels = cls_in_channels
        self.reg_in_channels = reg_in_channels
        self.roi_feat_size = roi_feat_size
        self.reg_feat_up_ratio = int(reg_feat_up_ratio)
        self.num_buckets = bbox_coder['num_buckets']
        self.up_reg_feat_size = roi_feat_size * self.reg_feat_up_ratio
        check_arg(
            self.reg_feat_up_ratio >= 2
            and self.up_reg_feat_size == self.num_buckets,
            'SABLHead',
            'roi_feat_size * reg_feat_up_ratio (ratio >= 2) must equal '
            f'num_buckets={self.num_buckets}',
        )
        check_arg(
            reg_class_agnostic, 'SABLHead', 'only class-agnostic regression'
        )
        self.reg_pre_kernel = reg_pre_kernel
        self.reg_post_kernel = reg_post_kernel
        self.reg_pre_num = reg_pre_num
        self.reg_post_num = reg_post_num
        self.num_classes = num_classes
        self.cls_out_channels = cls_out_channels
        self.reg_offset_out_channels = reg_offset_out_channels
        self.reg_cls_out_channels = reg_cls_out_channels
        self.num_cls_fcs = num_cls_fcs
        self.num_reg_fcs = num_reg_fcs
        self.reg_class_agnostic = reg_class_agnostic
        self.norm_cfg = norm_cfg
        self.side_num = math.ceil(self.num_buckets / 2)
        self.bbox_coder = build_bbox_coder(bbox_coder)
        self.loss_cls = build_loss(loss_cls)
        self.loss_bbox_cls = build_loss(loss_bbox_cls)
        self.loss_bbox_reg = build_loss(loss_bbox_reg)
        self._init_layers()
        if init_cfg is None:
            self.init_cfg = self._default_init_cfg()

    def _init_layers(self):
        reg_c = self.reg_in_channels
        self.cls_fcs = _fc_branch(
            self.num_cls_fcs,
            self.cls_in_channels * self.roi_feat_size**2,
            self.cls_out_channels,
        )
        ratio = self.reg_feat_up_ratio
        self.upsample_x = nn.ConvTranspose1d(reg_c, reg_c, ratio, ratio)
        self.upsample_y = nn.ConvTranspose1d(reg_c, reg_c, ratio, ratio)
        self.reg_pre_convs = nn.ModuleList(
            [
                self._conv(self.reg_pre_kernel, self.reg_pre_kernel // 2)
                for _ in range(self.reg_pre_num)
            ]
        )
        k, pad = self.reg_post_kernel, self.reg_post_kernel // 2
        self.reg_post_conv_xs = nn.ModuleList(
            [self._conv((1, k), (0, pad)) for _ in range(self.reg_post_num)]
        )
        self.reg_post_conv_ys = nn.ModuleList(
            [self._conv((k, 1), (pad, 0)) for _ in range(self.reg_post_num)]
        )
        self.reg_conv_att_x = nn.Conv2d(reg_c, 1, 1)
        self.reg_conv_att_y = nn.Conv2d(reg_c, 1, 1)
        self.fc_cls = nn.Linear(self.cls_out_channels, self.num_classes + 1)
        self.relu = nn.ReLU(inplace=True)
        self.reg_cls_fcs = _fc_branch(
            self.num_reg_fcs, reg_c, self.reg_cls_out_channels
        )
        self.reg_offset_fcs = _fc_branch(
            self.num_reg_fcs, reg_c, self.reg_offset_out_channels
        )
        self.fc_reg_cls = nn.Linear(self.reg_cls_out_channels, 1)
        self.fc_reg_offset = nn.Linear(self.reg_offset_out_channels, 1)

    def _conv(self, kernel_size, padding):
        return ConvModule(
            self.reg_in_channels,
            self.reg_in_channels,
            kernel_size=kernel_size,
            padding=padding,
            norm_cfg=self.norm_cfg,
            act_cfg=dict(type='ReLU'),
        )

    @staticmethod
    def _default_init_cfg():
        normal = [
            dict(type='Normal', name=name, std=std)
            for name, std in (
                ('reg_conv_att_x', 0.01),
                ('reg_conv_att_y', 0.01),
                ('fc_reg_cls', 0.01),
                ('fc_cls', 0.01),
                ('fc_reg_offset', 0.001),
            )
        ]
        return [
            dict(
                type='Xavier',
                layer='Linear',
                distribution='uniform',
                override=normal,
            ),
            dict(
                type='Kaiming',
                distribution='normal',
                override=[dict(name='upsample_x'), dict(name='upsample_y')],
            ),
        ]

    @property
    def num_cls_channels(self):
        return self.num_classes + 1

    @property
    def custom_cls_channels(self):
        return getattr(self.loss_cls, 'custom_cls_channels', False)

    @property
    def custom_activation(self):
        return getattr(self.loss_cls, 'custom_activation', False)

    @property
    def custom_accuracy(self):
        return getattr(self.loss_cls, 'custom_accuracy', False)

    # ----------------------------------------------------------- forward
    def cls_forward(self, cls_x):
        """(K, C, s, s) -> (K, num_classes + 1) logits."""
        cls_x = cls_x.flatten(1)
        for fc in self.cls_fcs:
            cls_x = self.relu(fc(cls_x))
        return self.fc_cls(cls_x)

    def attention_pool(self, reg_x):
        """(K, C, s, s) -> x profile (K, C, s) (pooled over rows) and
        y profile (K, C, s) (pooled over columns), attention-weighted."""
        att_x = self.reg_conv_att_x(reg_x).sigmoid()
        att_y = self.reg_conv_att_y(reg_x).sigmoid()
        att_x = att_x / att_x.sum(dim=2, keepdim=True)
        att_y = att_y / att_y.sum(dim=3, keepdim=True)
        return (reg_x * att_x).sum(dim=2), (reg_x * att_y).sum(dim=3)

    def side_aware_feature_extractor(self, reg_x):
        """(K, C, s, s) -> x and y profiles (K, num_buckets, C)."""
        for conv in self.reg_pre_convs:
            reg_x = conv(reg_x)
        reg_fx, reg_fy = self.attention_pool(reg_x)
        if self.reg_post_num > 0:
            reg_fx, reg_fy = reg_fx.unsqueeze(2), reg_fy.unsqueeze(3)
            for conv_x, conv_y in zip(
                self.reg_post_conv_xs, self.reg_post_conv_ys
            ):
                reg_fx, reg_fy = conv_x(reg_fx), conv_y(reg_fy)
            reg_fx, reg_fy = reg_fx.squeeze(2), reg_fy.squeeze(3)
        reg_fx = self.relu(self.upsample_x(reg_fx))
        reg_fy = self.relu(self.upsample_y(reg_fy))
        return (
            reg_fx.transpose(1, 2).contiguous(),
            reg_fy.transpose(1, 2).contiguous(),
        )

    def reg_pred(self, x, offset_fcs, cls_fcs):
        """(K, P, C) profile -> offsets (K, P) and bucket logits (K, P)."""
        x_offset = x.reshape(-1, self.reg_in_channels)
        x_cls = x_offset
        for fc in offset_fcs:
            x_offset = self.relu(fc(x_offset))
        for fc in cls_fcs:
            x_cls = self.relu(fc(x_cls))
        offset_pred = self.fc_reg_offset(x_offset).view(x.size(0), -1)
        cls_pred = self.fc_reg_cls(x_cls).view(x.size(0), -1)
        return offset_pred, cls_pred

    def side_aware_split(self, feat):
        """(K, P) along a profile -> (K, 2 * ceil(P / 2)): the first half
        (from the low side) then the second half reversed (from the high
        side), so each side's buckets count inwards."""
        size = self.up_reg_feat_size
        low = feat[:, : math.ceil(size / 2)]
        high = feat[:, size // 2 :].flip(dims=(1,))
        return torch.cat([low, high], dim=-1)

    def bbox_pred_split(self, bbox_pred, num_proposals_per_img):
        """Split the (bucket logits, offsets) pair per image."""
        cls_preds, offset_preds = bbox_pred
        return tuple(
            zip(
                cls_preds.split(num_proposals_per_img, 0),
                offset_preds.split(num_proposals_per_img, 0),
            )
        )

    def reg_forward(self, reg_x):
        """(K, C, s, s) -> (bucket logits, offsets), each (K, 4 * S)."""
        reg_fx, reg_fy = self.side_aware_feature_extractor(reg_x)
        off_x, cls_x = self.reg_pred(
            reg_fx, self.reg_offset_fcs, self.reg_cls_fcs
        )
        off_y, cls_y = self.reg_pred(
            reg_fy, self.reg_offset_fcs, self.reg_cls_fcs
        )
        split = self.side_aware_split
        offsets = torch.cat([split(off_x), split(off_y)], dim=-1)
        logits = torch.cat([split(cls_x), split(cls_y)], dim=-1)
        return logits, offsets

    def forward(self, x):
        """(K, C, s, s) RoI features -> class logits (K, num_classes + 1)
        and the box pair (bucket logits, offsets)."""
        bbox_pred = self.reg_forward(x)
        return self.cls_forward(x), bbox_pred

    # ----------------------------------------------------------- targets
    def get_targets(
        self, sampling_results, gt_bboxes, gt_labels, rcnn_train_cfg
    ):
        """Targets of the sampled RoIs of the batch, concatenated:
        ``(labels, label_weights, (bucket_labels, offsets),
        (bucket_label_weights, offset_weights))``."""
        res = self.bucket_target(
            [r.pos_bboxes for r in sampling_results],
            [r.neg_bboxes for r in sampling_results],
            [r.pos_gt_bboxes for r in sampling_results],
            [r.pos_gt_labels for r in sampling_results],
            rcnn_train_cfg,
        )
        labels, label_weights, cls_t, cls_w, off_t, off_w = res
        return labels, label_weights, (cls_t, off_t), (cls_w, off_w)

    def bucket_target(
        self,
        pos_proposals_list,
        neg_proposals_list,
        pos_gt_bboxes_list,
        pos_gt_labels_list,
        rcnn_train_cfg,
        concat=True,
    ):
        """Per image :meth:`_bucket_target_single`, concatenated over the
        images when ``concat``."""
        per_image = [
            self._bucket_target_single(*args, cfg=rcnn_train_cfg)
            for args in zip(
                pos_proposals_list,
                neg_proposals_list,
                pos_gt_bboxes_list,
                pos_gt_labels_list,
            )
        ]
        parts = tuple(map(list, zip(*per_image)))
        if concat:
            parts = tuple(torch.cat(p, 0) for p in parts)
        return parts

    def _bucket_target_single(
        self, pos_proposals, neg_proposals, pos_gt_bboxes, pos_gt_labels, cfg
    ):
        """Positives first, then negatives: labels (n,), label weights (n,)
        and bucket labels / weights, offsets / weights (n, 4 * S), 0 on
        negatives."""
        num_pos, num_neg = pos_proposals.size(0), neg_proposals.size(0)
        num = num_pos + num_neg
        labels = pos_gt_bboxes.new_full((num,), self.num_classes).long()
        label_weights = pos_proposals.new_zeros(num)
        buckets = [
            pos_proposals.new_zeros(num, 4 * self.side_num) for _ in range(4)
        ]
        if num_pos > 0:
            labels[:num_pos] = pos_gt_labels
            label_weights[:num_pos] = 1.0
            encoded = self.bbox_coder.encode(pos_proposals, pos_gt_bboxes)
            for target, value in zip(buckets, encoded):
                target[:num_pos] = value
        if num_neg > 0:
            label_weights[-num_neg:] = 1.0
        off_t, off_w, cls_t, cls_w = buckets
        return labels, label_weights, cls_t, cls_w, off_t, off_w

    # -------------------------------------------------------------- loss
    def loss(
        self,
        cls_score,
        bbox_pred,
        rois,
        labels,
        label_weights,
        bbox_targets,
        bbox_weights,
        reduction_override=None,
    ):
        """``loss_cls`` and ``acc`` over the sampled RoIs; ``loss_bbox_cls``
        (bucket classification) and ``loss_bbox_reg`` (offsets) averaged
        over RoI sides / RoIs."""
        losses = dict()
        if cls_score is not None:
            avg = max(float((label_weights > 0).sum()), 1.0)
            losses['loss_cls'] = self.loss_cls(
                cls_score,
                labels,
                label_weights,
                avg_factor=avg,
                reduction_override=reduction_override,
            )
            losses['acc'] = accuracy(cls_score, labels)
        if bbox_pred is not None:
            cls_preds, offset_preds = bbox_pred
            cls_t, off_t = bbox_targets
            cls_w, off_w = bbox_weights
            cls_t = cls_t.view(-1, self.side_num)
            losses['loss_bbox_cls'] = self.loss_bbox_cls(
                cls_preds.view(-1, self.side_num),
                cls_t,
                cls_w.view(-1, self.side_num),
                avg_factor=cls_t.size(0),
                reduction_override=reduction_override,
            )
            losses['loss_bbox_reg'] = self.loss_bbox_reg(
                offset_preds,
                off_t,
                off_w,
                avg_factor=off_t.size(0),
                reduction_override=reduction_override,
            )
        return losses

    # --------------------------------------------------------- inference
    @force_fp32(apply_to=('cls_score', 'bbox_pred'))
    def get_bboxes(
        self,
        rois,
        cls_score,
        bbox_pred,
        img_shape,
        scale_factor,
        rescale=False,
        cfg=None,
    ):
        """Detections of one image's (K, 5) RoIs: softmax scores, decoded
        boxes, ``multiclass_nms`` with the localisation confidence as score
        factor (or, without ``cfg``, the boxes (K, 4) and scores)."""
        if isinstance(cls_score, list):
            cls_score = sum(cls_score) / float(len(cls_score))
        scores = None if cls_score is None else F.softmax(cls_score, dim=1)
        confidences = None
        if bbox_pred is not None:
            bboxes, confidences = self.bbox_coder.decode(
                rois[:, 1:], bbox_pred, img_shape
            )
        else:
            bboxes = rois[:, 1:].clone()
            if img_shape is not None:
                bboxes = clip_bboxes(bboxes, img_shape)
        if rescale and bboxes.size(0) > 0:
            bboxes = bboxes / bboxes.new_tensor(scale_factor)
        if cfg is None:
            return bboxes, scores
        return multiclass_nms(
            bboxes,
            scores,
            cfg['score_thr'],
            cfg['nms'],
            cfg['max_per_img'],
            score_factors=confidences,
        )

    # ---------------------------------------------------------- cascade
    @force_fp32(apply_to=('bbox_preds',))
    def refine_bboxes(self, rois, labels, bbox_preds, pos_is_gts, img_metas):
        """Per image the decoded (n, 4) RoIs for the next cascade stage,
        without the gt boxes the sampler added."""
        cls_preds, offset_preds = bbox_preds
        img_ids = rois[:, 0].long()
        refined = []
        for i, meta in enumerate(img_metas):
            inds = torch.nonzero(img_ids == i, as_tuple=True)[0]
            boxes = self.regress_by_class(
                rois[inds, 1:],
                labels[inds],
                (cls_preds[inds], offset_preds[inds]),
                meta,
            )
            keep = torch.ones(len(inds), dtype=torch.bool, device=boxes.device)
            is_gt = pos_is_gts[i].bool()
            keep[: len(is_gt)] = ~is_gt
            refined.append(boxes[keep])
        return refined

    @force_fp32(apply_to=('bbox_pred',))
    def regress_by_class(self, rois, label, bbox_pred, img_meta):
        """Decode (K, 4) boxes or (K, 5) RoIs (class-agnostic: ``label`` is
        not used)."""
        check_arg(
            rois.size(1) in (4, 5),
            'SABLHead',
            f'rois must be (K, 4) or (K, 5), got {tuple(rois.shape)}',
        )
        boxes, _ = self.bbox_coder.decode(
            rois[:, -4:], bbox_pred, img_meta['img_shape']
        )
        if rois.size(1) == 4:
            return boxes
        return torch.cat([rois[:, [0]], boxes], dim=1)
