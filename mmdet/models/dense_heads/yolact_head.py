"""YOLACT heads (https://arxiv.org/abs/1904.02689): ``YOLACTHead`` (anchor
boxes, classes and ``num_protos`` mask coefficients per anchor, OHEM, Fast
NMS), ``YOLACTSegmHead`` (auxiliary semantic segmentation loss) and
``YOLACTProtonet`` (prototype masks; an instance mask is the sigmoid of the
prototypes weighted by its coefficients, cropped to its box)."""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmcv.runner import BaseModule, ModuleList

from mmdet.core import build_sampler, fast_nms, multi_apply
from mmdet.core.utils import select_single_mlvl
from ..builder import HEADS, build_loss
from .anchor_head import TEST_CFG_KEYS, TRAIN_CFG_KEYS, AnchorHead


def _flat(maps, num_imgs, channels):
    """Per-level (B, A*c, H, W) maps -> (B, sum(H*W*A), c)."""
    return torch.cat(
        [m.permute(0, 2, 3, 1).reshape(num_imgs, -1, channels) for m in maps],
        1,
    )


@HEADS.register_module()
class YOLACTHead(AnchorHead):
    """Shared ``head_convs`` then 3 x 3 predictors of classes, box deltas and
    tanh mask coefficients for every anchor.

    With ``use_ohem`` the classification loss keeps every positive and the
    ``train_cfg.neg_pos_ratio`` x as many hardest negatives per image.
    ``loss`` returns ``(losses, sampling_results)`` (the protonet needs the
    positives); ``get_bboxes`` returns per image boxes, labels, coefficients.
    """

    train_cfg_keys = TRAIN_CFG_KEYS + ('neg_pos_ratio',)
    test_cfg_keys = TEST_CFG_KEYS + ('iou_thr', 'top_k')

    def __init__(
        self,
        num_classes,
        in_channels,
        anchor_generator=dict(
            type='AnchorGenerator',
            octave_base_scale=3,
            scales_per_octave=1,
            ratios=[0.5, 1.0, 2.0],
            strides=[8, 16, 32, 64, 128],
        ),
        loss_cls=dict(
            type='CrossEntropyLoss',
            use_sigmoid=False,
            reduction='none',
            loss_weight=1.0,
        ),
        loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.5),
        num_head_convs=1,
        num_protos=32,
        use_ohem=True,
        conv_cfg=None,
        norm_cfg=None,
        init_cfg=dict(
            type='Xavier', distribution='uniform', bias=0, layer='Conv2d'
        ),
        **kwargs,
    ):
        self.num_head_convs = num_head_convs
        self.num_protos = num_protos
        self.use_ohem = use_ohem
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        super().__init__(
            num_classes,
            in_channels,
            loss_cls=loss_cls,
            loss_bbox=loss_bbox,
            anchor_generator=anchor_generator,
            init_cfg=init_cfg,
            **kwargs,
        )
        self.sampling = False
        if self.use_ohem:
            self.sampler = build_sampler(
                dict(type='PseudoSampler'), context=self
            )

    def _init_layers(self):
        self.relu = nn.ReLU(inplace=True)
        self.head_convs = ModuleList(
            ConvModule(
                self.in_channels if i == 0 else self.feat_channels,
                self.feat_channels,
                3,
                stride=1,
                padding=1,
                conv_cfg=self.conv_cfg,
                norm_cfg=self.norm_cfg,
            )
            for i in range(self.num_head_convs)
        )
        a = self.num_base_priors
        self.conv_cls = nn.Conv2d(
            self.feat_channels, a * self.cls_out_channels, 3, padding=1
        )
        self.conv_reg = nn.Conv2d(self.feat_channels, a * 4, 3, padding=1)
        self.conv_coeff = nn.Conv2d(
            self.feat_channels, a * self.num_protos, 3, padding=1
        )

    def forward_single(self, x):
        """(B, C, H, W) -> class logits, box deltas, coefficients in
        (-1, 1), each (B, A*k, H, W)."""
        for conv in self.head_convs:
            x = conv(x)
        return self.conv_cls(x), self.conv_reg(x), self.conv_coeff(x).tanh()

    def loss(
        self,
        cls_scores,
        bbox_preds,
        gt_bboxes,
        gt_labels,
        img_metas,
        gt_bboxes_ignore=None,
    ):
        """-> ``(dict(loss_cls=[...], loss_bbox=[...]), sampling_results)``
        (lists per image with OHEM, per level without)."""
        sizes = [m.size()[-2:] for m in cls_scores]
        anchor_list, valid_flag_list = self.get_anchors(
            sizes, img_metas, device=cls_scores[0].device
        )
        targets = self.get_targets(
            anchor_list,
            valid_flag_list,
            gt_bboxes,
            img_metas,
            gt_bboxes_ignore_list=gt_bboxes_ignore,
            gt_labels_list=gt_labels,
            return_sampling_results=True,
        )
        if targets is None:
            return None
        labels, label_w, box_t, box_w, num_pos, _, sampling_results = targets
        if not self.use_ohem:
            losses_cls, losses_bbox = multi_apply(
                self._level_loss,
                cls_scores,
                bbox_preds,
                [
                    torch.cat([a[lvl] for a in anchor_list])
                    for lvl in range(len(sizes))
                ],
                labels,
                label_w,
                box_t,
                box_w,
                num_total_samples=num_pos,
            )
        else:
            n = len(img_metas)
            if not (
                torch.isfinite(
                    torch.cat([c.flatten() for c in cls_scores])
                ).all()
                and torch.isfinite(
                    torch.cat([b.flatten() for b in bbox_preds])
                ).all()
            ):
                raise FloatingPointError(
                    'YOLACTHead: predictions are not finite'
                )
            losses_cls, losses_bbox = multi_apply(
                self.loss_single_OHEM,
                _flat(cls_scores, n, self.cls_out_channels),
                _flat(bbox_preds, n, 4),
                [torch.cat(a) for a in anchor_list],
                torch.cat(labels, -1).view(n, -1),
                torch.cat(label_w, -1).view(n, -1),
                torch.cat(box_t, -2).view(n, -1, 4),
                torch.cat(box_w, -2).view(n, -1, 4),
                num_total_samples=num_pos,
            )
        return (
            dict(loss_cls=losses_cls, loss_bbox=losses_bbox),
            sampling_results,
        )

    def _level_loss(
        self,
        cls_score,
        bbox_pred,
        anchors,
        labels,
        label_w,
        box_t,
        box_w,
        num_total_samples,
    ):
        """Plain (no OHEM) loss of one level, all images."""
        return self.loss_single(
            cls_score.permute(0, 2, 3, 1).reshape(-1, self.cls_out_channels),
            bbox_pred.permute(0, 2, 3, 1).reshape(-1, 4),
            anchors,
            labels.reshape(-1),
            label_w.reshape(-1),
            box_t.reshape(-1, 4),
            box_w.reshape(-1, 4),
            num_total_samples,
        )

    def loss_single_OHEM(
        self,
        cls_score,
        bbox_pred,
        anchors,
        labels,
        label_weights,
        bbox_targets,
        bbox_weights,
        num_total_samples,
    ):
        """One image: all positives + the hardest ``neg_pos_ratio`` x as many
        negatives (all negatives when there is no positive)."""
        per_anchor = self.loss_cls(cls_score, labels, label_weights)
        pos = ((labels >= 0) & (labels < self.num_classes)).nonzero().view(-1)
        neg = (labels == self.num_classes).nonzero().view(-1)
        num_neg = neg.numel()
        if pos.numel() > 0:
            num_neg = min(self.train_cfg.neg_pos_ratio * pos.numel(), num_neg)
        hard_neg = per_anchor[neg].topk(num_neg)[0]
        loss_cls = (per_anchor[pos].sum() + hard_neg.sum()) / num_total_samples
        if self.reg_decoded_bbox:
            bbox_pred = self.bbox_coder.decode(anchors, bbox_pred)
        loss_bbox = self.loss_bbox(
            bbox_pred, bbox_targets, bbox_weights, avg_factor=num_total_samples
        )
        return loss_cls[None], loss_bbox

    def get_bboxes(
        self,
        cls_scores,
        bbox_preds,
        coeff_preds,
        img_metas,
        cfg=None,
        rescale=False,
    ):
        """-> per image lists of dets (n, 5), labels (n,), coeffs (n, K)."""
        sizes = [m.shape[-2:] for m in cls_scores]
        anchors = self.prior_generator.grid_priors(
            sizes, device=cls_scores[0].device
        )
        out = ([], [], [])
        for img_id, meta in enumerate(img_metas):
            res = self._get_bboxes_single(
                select_single_mlvl(cls_scores, img_id),
                select_single_mlvl(bbox_preds, img_id),
                select_single_mlvl(coeff_preds, img_id),
                anchors,
                meta['img_shape'],
                meta['scale_factor'],
                cfg,
                rescale,
            )
            for store, value in zip(out, res):
                store.append(value)
        return out

    def _level_candidates(
        self, cls_score, bbox_pred, coeff, anchors, nms_pre, img_shape
    ):
        scores = cls_score.permute(1, 2, 0).reshape(-1, self.cls_out_channels)
        scores = (
            scores.sigmoid() if self.use_sigmoid_cls else scores.softmax(-1)
        )
        bbox_pred = bbox_pred.permute(1, 2, 0).reshape(-1, 4)
        coeff = coeff.permute(1, 2, 0).reshape(-1, self.num_protos)
        if 0 < nms_pre < scores.shape[0]:
            fg = scores if self.use_sigmoid_cls else scores[:, :-1]
            top = fg.max(dim=1)[0].topk(nms_pre)[1]
            anchors, bbox_pred = anchors[top], bbox_pred[top]
            scores, coeff = scores[top], coeff[top]
        boxes = self.bbox_coder.decode(anchors, bbox_pred, max_shape=img_shape)
        return boxes, scores, coeff

    def _get_bboxes_single(
        self,
        cls_score_list,
        bbox_pred_list,
        coeff_preds_list,
        mlvl_anchors,
        img_shape,
        scale_factor,
        cfg,
        rescale=False,
    ):
        """Top ``nms_pre`` per level, decode, Fast NMS."""
        cfg = self.test_cfg if cfg is None else cfg
        nms_pre = cfg.get('nms_pre', -1)
        levels = [
            self._level_candidates(*args, nms_pre, img_shape)
            for args in zip(
                cls_score_list, bbox_pred_list, coeff_preds_list, mlvl_anchors
            )
        ]
        boxes, scores, coeffs = (torch.cat(t) for t in zip(*levels))
        if rescale:
            boxes = boxes / boxes.new_tensor(scale_factor)
        if self.use_sigmoid_cls:
            scores = torch.cat([scores, scores.new_zeros(len(scores), 1)], 1)
        return fast_nms(
            boxes,
            scores,
            coeffs,
            cfg.score_thr,
            cfg.iou_thr,
            cfg.top_k,
            cfg.max_per_img,
        )


@HEADS.register_module()
class YOLACTSegmHead(BaseModule):
    """1 x 1 conv to per-class semantic logits on the first FPN level; its
    loss only helps training."""

    def __init__(
        self,
        num_classes,
        in_channels=256,
        loss_segm=dict(
            type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0
        ),
        init_cfg=dict(
            type='Xavier',
            distribution='uniform',
            override=dict(name='segm_conv'),
        ),
    ):
        super().__init__(init_cfg)
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.loss_segm = build_loss(loss_segm)
        self.segm_conv = nn.Conv2d(in_channels, num_classes, kernel_size=1)
        self.fp16_enabled = False

    def forward(self, x):
        """(B, C, H, W) -> (B, num_classes, H, W) logits."""
        return self.segm_conv(x)

    def loss(self, segm_pred, gt_masks, gt_labels):
        """``dict(loss_segm=[per image])``, sigmoid CE averaged over
        B*H*W."""
        num_imgs, _, h, w = segm_pred.size()
        losses = []
        for pred, masks, labels in zip(segm_pred, gt_masks, gt_labels):
            target = self.get_targets(pred, masks.float(), labels)
            if target is None:
                zeros = torch.zeros_like(pred)
                losses.append(self.loss_segm(pred, zeros, zeros))
            else:
                losses.append(
                    self.loss_segm(pred, target, avg_factor=num_imgs * h * w)
                )
        return dict(loss_segm=losses)

    def get_targets(self, segm_pred, gt_masks, gt_labels):
        """(num_classes, h, w) union of the downsampled gt masks per class.

        As in MMDetection 2.28 the channel is ``label - 1`` (class 0 lands in
        the last channel); kept so trained weights mean the same.
        """
        if gt_masks.size(0) == 0:
            return None
        with torch.no_grad():
            small = (
                F.interpolate(
                    gt_masks.unsqueeze(0),
                    segm_pred.shape[-2:],
                    mode='bilinear',
                    align_corners=False,
                )
                .squeeze(0)
                .gt(0.5)
                .float()
            )
            target = torch.zeros_like(segm_pred)
            for mask, label in zip(small, gt_labels):
                target[label - 1] = torch.max(target[label - 1], mask)
        return target

    def simple_test(self, feats, img_metas, rescale=False):
        raise NotImplementedError(
            'YOLACTSegmHead is only used for a training loss'
        )


class InterpolateModule(BaseModule):
    """``F.interpolate`` with fixed arguments, as a layer."""

    def __init__(self, *args, init_cfg=None, **kwargs):
        super().__init__(init_cfg)
        self.args = args
        self.kwargs = kwargs

    def forward(self, x):
        return F.interpolate(x, *self.args, **self.kwargs)


def sanitize_coordinates(x1, x2, img_size, padding=0, cast=True):
    """Relative coordinates -> ordered pixel bounds grown by ``padding``,
    clamped to [0, img_size]."""
    x1, x2 = x1 * img_size, x2 * img_size
    if cast:
        x1, x2 = x1.long(), x2.long()
    x1 = torch.min(x1, x2)
    x2 = torch.max(x1, x2)
    return (
        torch.clamp(x1 - padding, min=0),
        torch.clamp(x2 + padding, max=img_size),
    )


def crop_masks(masks, boxes, padding=1):
    """Zero (h, w, n) masks outside their relative (n, 4) boxes."""
    h, w, n = masks.size()
    x1, x2 = sanitize_coordinates(boxes[:, 0], boxes[:, 2], w, padding, False)
    y1, y2 = sanitize_coordinates(boxes[:, 1], boxes[:, 3], h, padding, False)
    cols = torch.arange(w, device=masks.device, dtype=x1.dtype)
    rows = torch.arange(h, device=masks.device, dtype=x1.dtype)
    cols, rows = cols.view(1, -1, 1), rows.view(-1, 1, 1)
    inside = (
        (cols >= x1.view(1, 1, -1))
        & (cols < x2.view(1, 1, -1))
        & (rows >= y1.view(1, 1, -1))
        & (rows < y2.view(1, 1, -1))
    )
    return masks * inside.float()


@HEADS.register_module()
class YOLACTProtonet(BaseModule):
    """Prototype network on the first FPN level: ``protonet`` is a
    Sequential of (layer, ReLU) pairs, kernel size k > 0 a k x k conv,
    k < 0 with channels None a |k| x bilinear upsampling."""

    def __init__(
        self,
        num_classes,
        in_channels=256,
        proto_channels=(256, 256, 256, None, 256, 32),
        proto_kernel_sizes=(3, 3, 3, -2, 3, 1),
        include_last_relu=True,
        num_protos=32,
        loss_mask_weight=1.0,
        max_masks_to_train=100,
        init_cfg=dict(
            type='Xavier',
            distribution='uniform',
            override=dict(name='protonet'),
        ),
    ):
        super().__init__(init_cfg)
        self.in_channels = in_channels
        self.proto_channels = proto_channels
        self.proto_kernel_sizes = proto_kernel_sizes
        self.include_last_relu = include_last_relu
        self.protonet = self._init_layers()
        self.loss_mask_weight = loss_mask_weight
        self.num_protos = num_protos
        self.num_classes = num_classes
        self.max_masks_to_train = max_masks_to_train
        self.fp16_enabled = False

    def _layer(self, in_channels, channels, k):
        if k > 0:
            return nn.Conv2d(in_channels, channels, k, padding=k // 2)
        if channels is None:
            return InterpolateModule(
                scale_factor=-k, mode='bilinear', align_corners=False
            )
        return nn.ConvTranspose2d(in_channels, channels, -k, padding=k // 2)

    def _init_layers(self):
        layers, chn = [], self.in_channels
        for channels, k in zip(self.proto_channels, self.proto_kernel_sizes):
            layers += [self._layer(chn, channels, k), nn.ReLU(inplace=True)]
            chn = chn if channels is None else channels
        if not self.include_last_relu:
            layers = layers[:-1]
        return nn.Sequential(*layers)

    def forward_dummy(self, x):
        return self.protonet(x)

    def forward(self, x, coeff_pred, bboxes, img_meta, sampling_results=None):
        """Masks (n, H, W) in [0, 1] per image, cropped to the boxes.

        Training (``coeff_pred`` per-level maps): one mask per positive
        anchor, cropped to its gt box. Test (``coeff_pred`` per image (n, K)):
        one per detection, cropped to ``bboxes``.
        """
        protos = self.protonet(x).permute(0, 2, 3, 1).contiguous()
        training = coeff_pred[0].dim() == 4
        if training:
            coeff_pred = _flat(coeff_pred, x.size(0), self.num_protos)
        masks = []
        for i, meta in enumerate(img_meta):
            coeff = coeff_pred[i]
            if training:
                res = sampling_results[i]
                boxes = bboxes[i][res.pos_assigned_gt_inds].clone()
                coeff = coeff[res.pos_inds]
            else:
                boxes = bboxes[i].clone()
            h, w = meta['img_shape'][:2]
            boxes = boxes / boxes.new_tensor([w, h, w, h])
            mask = crop_masks(torch.sigmoid(protos[i] @ coeff.t()), boxes)
            masks.append(mask.permute(2, 0, 1).contiguous())
        return masks

    def loss(self, mask_pred, gt_masks, gt_bboxes, img_meta, sampling_results):
        """BCE per positive, averaged over pixels, divided by its gt box's
        relative area, summed, then divided by the positives of the batch
        (at most ``max_masks_to_train`` per image, drawn at random)."""
        losses, total_pos = [], 0
        for pred, masks, boxes, meta, res in zip(
            mask_pred, gt_masks, gt_bboxes, img_meta, sampling_results
        ):
            gt_inds = res.pos_assigned_gt_inds
            num_pos = gt_inds.size(0)
            if num_pos > self.max_masks_to_train:
                select = torch.randperm(num_pos)[: self.max_masks_to_train]
                pred, gt_inds = pred[select], gt_inds[select]
                num_pos = self.max_masks_to_train
            total_pos += num_pos
            target = self.get_targets(pred, masks.float(), gt_inds)
            if num_pos == 0:
                loss = pred.sum() * 0.0
            elif target is None:
                zeros = torch.zeros_like(pred)
                loss = F.binary_cross_entropy(pred, zeros, zeros)
            else:
                loss = (
                    F.binary_cross_entropy(
                        torch.clamp(pred, 0, 1), target, reduction='none'
                    )
                    * self.loss_mask_weight
                )
                h, w = meta['img_shape'][:2]
                box = boxes[gt_inds]
                rel_w = (box[:, 2] - box[:, 0]) / w
                rel_h = (box[:, 3] - box[:, 1]) / h
                loss = (loss.mean(dim=(1, 2)) / rel_w / rel_h).sum()
            losses.append(loss)
        total_pos = max(total_pos, 1)
        return dict(loss_mask=[x / total_pos for x in losses])

    def get_targets(self, mask_pred, gt_masks, pos_assigned_gt_inds):
        """Gt masks resized to the prototypes, binarised, per positive."""
        if gt_masks.size(0) == 0:
            return None
        resized = F.interpolate(
            gt_masks.unsqueeze(0),
            mask_pred.shape[-2:],
            mode='bilinear',
            align_corners=False,
        ).squeeze(0)
        return resized.gt(0.5).float()[pos_assigned_gt_inds]

    def get_seg_masks(self, mask_pred, label_pred, img_meta, rescale):
        """Per-class lists of (H, W) uint8 masks at the original size
        (``rescale``) or the resized image size."""
        ori_shape = img_meta['ori_shape']
        scale_factor = img_meta['scale_factor']
        if rescale:
            img_h, img_w = ori_shape[:2]
        else:
            img_h = np.round(ori_shape[0] * scale_factor[1]).astype(np.int32)
            img_w = np.round(ori_shape[1] * scale_factor[0]).astype(np.int32)
        cls_segms = [[] for _ in range(self.num_classes)]
        if mask_pred.size(0) == 0:
            return cls_segms
        masks = (
            F.interpolate(
                mask_pred.unsqueeze(0),
                (int(img_h), int(img_w)),
                mode='bilinear',
                align_corners=False,
            ).squeeze(0)
            > 0.5
        )
        for m, label in zip(masks.cpu().numpy().astype(np.uint8), label_pred):
            cls_segms[label].append(m)
        return cls_segms

    def crop(self, masks, boxes, padding=1):
        return crop_masks(masks, boxes, padding)

    def sanitize_coordinates(self, x1, x2, img_size, padding=0, cast=True):
        return sanitize_coordinates(x1, x2, img_size, padding, cast)

    def simple_test(
        self,
        feats,
        det_bboxes,
        det_labels,
        det_coeffs,
        img_metas,
        rescale=False,
    ):
        """Per image, per class lists of masks of the detections."""
        num_classes = self.num_classes
        if all(d.shape[0] == 0 for d in det_bboxes):
            return [[[] for _ in range(num_classes)] for _ in img_metas]
        boxes = []
        for dets, meta in zip(det_bboxes, img_metas):
            b = dets[:, :4]
            if rescale:
                b = b * b.new_tensor(np.asarray(meta['scale_factor']))
            boxes.append(b)
        mask_preds = self.forward(feats[0], det_coeffs, boxes, img_metas)
        results = []
        for i, meta in enumerate(img_metas):
            if det_bboxes[i].shape[0] == 0:
                results.append([[] for _ in range(num_classes)])
            else:
                results.append(
                    self.get_seg_masks(
                        mask_preds[i], det_labels[i], meta, rescale
                    )
                )
        return results
