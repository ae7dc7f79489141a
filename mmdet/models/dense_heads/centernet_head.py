"""CenterNet head (Zhou et al., 2019, "Objects as Points"): a center
heatmap per class, and at each center the box size and the sub-pixel
offset, on one stride-4 feature map."""

import torch
import torch.nn as nn
from mmcv.cnn import bias_init_with_prob, normal_init

from mmdet.core import batched_nms, multi_apply
from mmdet.utils.arg_errors import check_arg
from ..builder import HEADS, build_loss
from ..utils.gaussian_target import (
    gaussian_radius,
    gen_gaussian_target,
    get_local_maximum,
    get_topk_from_heatmap,
    transpose_and_gather_feat,
)
from .base_dense_head import BaseDenseHead


def _single_level(name, *maps):
    check_arg(
        all(len(m) == 1 for m in maps),
        name,
        'takes one feature level',
    )


@HEADS.register_module()
class CenterNetHead(BaseDenseHead):
    """Three branches (3x3 conv, ReLU, 1x1 conv): ``heatmap_head``
    (num_classes, sigmoid), ``wh_head`` (2, box w/h in feature pixels),
    ``offset_head`` (2, center offset).

    Args:
        in_channel (int): input channels.
        feat_channel (int): channels of each branch's 3x3 conv.
        num_classes (int): object classes.
        loss_center_heatmap, loss_wh, loss_offset (dict): losses.
        train_cfg (dict, optional): unused.
        test_cfg (dict): ``topk``, ``local_maximum_kernel``,
            ``max_per_img`` (and ``nms`` for the flip test).
    """

    def __init__(
        self,
        in_channel,
        feat_channel,
        num_classes,
        loss_center_heatmap=dict(type='GaussianFocalLoss', loss_weight=1.0),
        loss_wh=dict(type='L1Loss', loss_weight=0.1),
        loss_offset=dict(type='L1Loss', loss_weight=1.0),
        train_cfg=None,
        test_cfg=None,
        init_cfg=None,
    ):
        super().__init__(init_cfg)
        self.num_classes = num_classes
        self.heatmap_head = self._build_head(
            in_channel, feat_channel, num_classes
        )
        self.wh_head = self._build_head(in_channel, feat_channel, 2)
        self.offset_head = self._build_head(in_channel, feat_channel, 2)
        self.loss_center_heatmap = build_loss(loss_center_heatmap)
        self.loss_wh = build_loss(loss_wh)
        self.loss_offset = build_loss(loss_offset)
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        self.fp16_enabled = False

    def _build_head(self, in_channel, feat_channel, out_channel):
        return nn.Sequential(
            nn.Conv2d(in_channel, feat_channel, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(feat_channel, out_channel, kernel_size=1),
        )

    def init_weights(self):
        """Heatmap bias for a prior of 0.1; normal(0, 0.001) size and
        offset convs."""
        self.heatmap_head[-1].bias.data.fill_(bias_init_with_prob(0.1))
        for head in (self.wh_head, self.offset_head):
            for m in head.modules():
                if isinstance(m, nn.Conv2d):
                    normal_init(m, std=0.001)

    def forward(self, feats):
        """Per level: heatmap (B, num_classes, H, W) in [0, 1], sizes and
        offsets (B, 2, H, W)."""
        return multi_apply(self.forward_single, feats)

    def forward_single(self, feat):
        return (
            self.heatmap_head(feat).sigmoid(),
            self.wh_head(feat),
            self.offset_head(feat),
        )

    def loss(
        self,
        center_heatmap_preds,
        wh_preds,
        offset_preds,
        gt_bboxes,
        gt_labels,
        img_metas,
        gt_bboxes_ignore=None,
    ):
        """``loss_center_heatmap``, ``loss_wh``, ``loss_offset``, each
        averaged over the number of gt centers."""
        _single_level('CenterNetHead', center_heatmap_preds, wh_preds)
        heatmap = center_heatmap_preds[0]
        targets, avg_factor = self.get_targets(
            gt_bboxes, gt_labels, heatmap.shape, img_metas[0]['pad_shape']
        )
        weight = targets['wh_offset_target_weight']
        return dict(
            loss_center_heatmap=self.loss_center_heatmap(
                heatmap,
                targets['center_heatmap_target'],
                avg_factor=avg_factor,
            ),
            loss_wh=self.loss_wh(
                wh_preds[0],
                targets['wh_target'],
                weight,
                avg_factor=avg_factor * 2,
            ),
            loss_offset=self.loss_offset(
                offset_preds[0],
                targets['offset_target'],
                weight,
                avg_factor=avg_factor * 2,
            ),
        )

    def get_targets(self, gt_bboxes, gt_labels, feat_shape, img_shape):
        """Heatmap (B, C, H, W), size, offset and their weight (B, 2, H, W)
        targets at each gt center (boxes scaled to the feature map), and
        the number of gt centers (at least 1)."""
        img_h, img_w = img_shape[:2]
        bs, _, feat_h, feat_w = feat_shape
        w_ratio, h_ratio = float(feat_w / img_w), float(feat_h / img_h)
        ref = gt_bboxes[-1]
        heatmap = ref.new_zeros((bs, self.num_classes, feat_h, feat_w))
        wh = ref.new_zeros((bs, 2, feat_h, feat_w))
        offset = ref.new_zeros((bs, 2, feat_h, feat_w))
        weight = ref.new_zeros((bs, 2, feat_h, feat_w))
        for b, (boxes, labels) in enumerate(zip(gt_bboxes, gt_labels)):
            cx = (boxes[:, 0] + boxes[:, 2]) * w_ratio / 2
            cy = (boxes[:, 1] + boxes[:, 3]) * h_ratio / 2
            box_w = (boxes[:, 2] - boxes[:, 0]) * w_ratio
            box_h = (boxes[:, 3] - boxes[:, 1]) * h_ratio
            for j in range(len(boxes)):
                x, y = int(cx[j]), int(cy[j])
                radius = gaussian_radius([box_h[j], box_w[j]], min_overlap=0.3)
                gen_gaussian_target(
                    heatmap[b, labels[j]], [x, y], max(0, int(radius))
                )
                wh[b, :, y, x] = torch.stack([box_w[j], box_h[j]])
                offset[b, 0, y, x] = cx[j] - x
                offset[b, 1, y, x] = cy[j] - y
                weight[b, :, y, x] = 1
        avg_factor = max(1, heatmap.eq(1).sum())
        targets = dict(
            center_heatmap_target=heatmap,
            wh_target=wh,
            offset_target=offset,
            wh_offset_target_weight=weight,
        )
        return targets, avg_factor

    def get_bboxes(
        self,
        center_heatmap_preds,
        wh_preds,
        offset_preds,
        img_metas,
        rescale=True,
        with_nms=False,
    ):
        """Per image ``(dets (k, 5), labels (k,))``: the ``topk`` heatmap
        peaks (no NMS unless ``with_nms``)."""
        _single_level('CenterNetHead', center_heatmap_preds, wh_preds)
        return [
            self._get_bboxes_single(
                center_heatmap_preds[0][i : i + 1],
                wh_preds[0][i : i + 1],
                offset_preds[0][i : i + 1],
                meta,
                rescale=rescale,
                with_nms=with_nms,
            )
            for i, meta in enumerate(img_metas)
        ]

    def _get_bboxes_single(
        self,
        center_heatmap_pred,
        wh_pred,
        offset_pred,
        img_meta,
        rescale=False,
        with_nms=True,
    ):
        """One image's detections, shifted by the crop border of the test
        pipeline (``img_meta['border']``: top, bottom, left, right)."""
        cfg = self.test_cfg
        dets, labels = self.decode_heatmap(
            center_heatmap_pred,
            wh_pred,
            offset_pred,
            img_meta['batch_input_shape'],
            k=cfg['topk'],
            kernel=cfg['local_maximum_kernel'],
        )
        dets, labels = dets.view(-1, 5), labels.view(-1)
        border = dets.new_tensor(img_meta['border'])[[2, 0, 2, 0]]
        dets[:, :4] -= border
        if rescale:
            dets[:, :4] /= dets.new_tensor(img_meta['scale_factor'])
        if with_nms:
            dets, labels = self._bboxes_nms(dets, labels, cfg)
        return dets, labels

    def decode_heatmap(
        self,
        center_heatmap_pred,
        wh_pred,
        offset_pred,
        img_shape,
        k=100,
        kernel=3,
    ):
        """The k best local maxima -> boxes (B, k, 5) in input pixels of
        ``img_shape`` (h, w) and labels (B, k)."""
        height, width = center_heatmap_pred.shape[2:]
        inp_h, inp_w = img_shape[:2]
        heatmap = get_local_maximum(center_heatmap_pred, kernel=kernel)
        scores, index, labels, ys, xs = get_topk_from_heatmap(heatmap, k=k)
        wh = transpose_and_gather_feat(wh_pred, index)
        offset = transpose_and_gather_feat(offset_pred, index)
        xs, ys = xs + offset[..., 0], ys + offset[..., 1]
        sx, sy = inp_w / width, inp_h / height
        boxes = torch.stack(
            [
                (xs - wh[..., 0] / 2) * sx,
                (ys - wh[..., 1] / 2) * sy,
                (xs + wh[..., 0] / 2) * sx,
                (ys + wh[..., 1] / 2) * sy,
                scores,
            ],
            dim=2,
        )
        return boxes, labels

    def _bboxes_nms(self, bboxes, labels, cfg):
        """Class-wise NMS of (n, 5) detections, ``max_per_img`` kept."""
        if labels.numel() == 0:
            return bboxes, labels
        dets, keep = batched_nms(
            bboxes[:, :4], bboxes[:, -1].contiguous(), labels, cfg['nms']
        )
        max_num = cfg['max_per_img']
        if max_num > 0:
            dets, keep = dets[:max_num], keep[:max_num]
        return dets, labels[keep]
