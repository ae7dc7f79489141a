"""SOLOv2 head: per grid cell a dynamic 1 x 1 (``dynamic_conv_size``) kernel
applied to one shared mask feature map (``MaskFeatModule``, stride
``mask_stride``) gives the cell's mask."""

import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmcv.runner import BaseModule

from mmdet.core import multi_apply
from mmdet.core.utils import generate_coordinate
from mmdet.utils.arg_errors import InvalidArgumentError
from ..builder import HEADS
from .solo_head import (
    SOLOHead,
    _normal_init_cfg,
    grid_cells_of_gts,
    masks_to_results,
    point_nms,
    rescale_mask,
)


class MaskFeatModule(BaseModule):
    """Unified mask features: level i (start..end) goes through i
    conv + 2x-upsample steps (level 0 one conv) to the first level's size;
    the sum passes a 1 x 1 ``conv_pred``. The deepest level gets (x, y)
    coordinates. Output (N, out_channels, H0, W0)."""

    def __init__(
        self,
        in_channels,
        feat_channels,
        start_level,
        end_level,
        out_channels,
        mask_stride=4,
        conv_cfg=None,
        norm_cfg=None,
        init_cfg=[dict(type='Normal', layer='Conv2d', std=0.01)],
    ):
        super().__init__(init_cfg=init_cfg)
        if not 0 <= start_level <= end_level:
            raise InvalidArgumentError(
                'MaskFeatModule: need 0 <= start_level <= end_level, got '
                f'{start_level}, {end_level}'
            )
        self.in_channels = in_channels
        self.feat_channels = feat_channels
        self.start_level = start_level
        self.end_level = end_level
        self.mask_stride = mask_stride
        self.out_channels = out_channels
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self._init_layers()
        self.fp16_enabled = False

    def _conv(self, in_channels, out_channels, kernel=3, inplace=False):
        return ConvModule(
            in_channels,
            out_channels,
            kernel,
            padding=kernel // 2,
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg,
            inplace=inplace,
        )

    def _level_convs(self, level):
        seq = nn.Sequential()
        if level == 0:
            seq.add_module(
                'conv0', self._conv(self.in_channels, self.feat_channels)
            )
            return seq
        for j in range(level):
            if j > 0:
                chn = self.feat_channels
            elif level == self.end_level:
                chn = self.in_channels + 2
            else:
                chn = self.in_channels
            seq.add_module(f'conv{j}', self._conv(chn, self.feat_channels))
            seq.add_module(
                f'upsample{j}',
                nn.Upsample(
                    scale_factor=2, mode='bilinear', align_corners=False
                ),
            )
        return seq

    def _init_layers(self):
        self.convs_all_levels = nn.ModuleList(
            self._level_convs(i)
            for i in range(self.start_level, self.end_level + 1)
        )
        self.conv_pred = self._conv(
            self.feat_channels, self.out_channels, kernel=1, inplace=True
        )

    def forward(self, feats):
        inputs = feats[self.start_level : self.end_level + 1]
        out = self.convs_all_levels[0](inputs[0])
        for i in range(1, len(inputs)):
            x = inputs[i]
            if i == len(inputs) - 1:
                x = torch.cat([x, generate_coordinate(x.size(), x.device)], 1)
            out = out + self.convs_all_levels[i](x)
        return self.conv_pred(out)


@HEADS.register_module()
class SOLOV2Head(SOLOHead):
    """SOLOv2: class and kernel towers on S x S resized features (the kernel
    tower with coordinates); masks = dynamic conv of the mask features."""

    def __init__(
        self,
        *args,
        mask_feature_head,
        dynamic_conv_size=1,
        dcn_cfg=None,
        dcn_apply_to_all_conv=True,
        init_cfg=_normal_init_cfg('conv_cls'),
        **kwargs,
    ):
        if dcn_cfg is not None and not isinstance(dcn_cfg, dict):
            raise InvalidArgumentError(
                'SOLOV2Head: dcn_cfg must be None or a dict'
            )
        self.dcn_cfg = dcn_cfg
        self.with_dcn = dcn_cfg is not None
        self.dcn_apply_to_all_conv = dcn_apply_to_all_conv
        self.dynamic_conv_size = dynamic_conv_size
        self.kernel_out_channels = (
            mask_feature_head.get('out_channels') * dynamic_conv_size**2
        )
        super().__init__(*args, init_cfg=init_cfg, **kwargs)
        mask_feature_head = dict(mask_feature_head)
        given = mask_feature_head.get('in_channels')
        if given is not None and given != self.in_channels:
            warnings.warn(
                'SOLOV2Head: mask_feature_head.in_channels changed to '
                f'in_channels={self.in_channels}'
            )
        mask_feature_head['in_channels'] = self.in_channels
        self.mask_feature_head = MaskFeatModule(**mask_feature_head)
        self.mask_stride = self.mask_feature_head.mask_stride
        self.fp16_enabled = False

    def _conv_cfg(self, i):
        if self.with_dcn and (
            self.dcn_apply_to_all_conv or i == self.stacked_convs - 1
        ):
            return self.dcn_cfg
        return None

    def _v2_tower(self, in_channels):
        return nn.ModuleList(
            ConvModule(
                in_channels if i == 0 else self.feat_channels,
                self.feat_channels,
                3,
                stride=1,
                padding=1,
                conv_cfg=self._conv_cfg(i),
                norm_cfg=self.norm_cfg,
                bias=self.norm_cfg is None,
            )
            for i in range(self.stacked_convs)
        )

    def _init_layers(self):
        self.cls_convs = self._v2_tower(self.in_channels)
        self.kernel_convs = self._v2_tower(self.in_channels + 2)
        self.conv_cls = nn.Conv2d(
            self.feat_channels, self.cls_out_channels, 3, padding=1
        )
        self.conv_kernel = nn.Conv2d(
            self.feat_channels, self.kernel_out_channels, 3, padding=1
        )

    def forward(self, feats):
        """-> (kernel preds (N, E*k*k, S, S) per level, class logits
        (N, C, S, S) per level, mask features (N, E, H, W))."""
        self._check_levels(feats)
        mask_feats = self.mask_feature_head(feats)
        kernel_preds, cls_preds = [], []
        for i, x in enumerate(self.resize_feats(feats)):
            x = torch.cat([x, generate_coordinate(x.size(), x.device)], 1)
            x = F.interpolate(
                x, size=self.num_grids[i], mode='bilinear', align_corners=False
            )
            kernel_feat, cls_feat = x, x[:, :-2].contiguous()
            for conv in self.kernel_convs:
                kernel_feat = conv(kernel_feat)
            for conv in self.cls_convs:
                cls_feat = conv(cls_feat)
            kernel_preds.append(self.conv_kernel(kernel_feat))
            cls_preds.append(self.conv_cls(cls_feat))
        return kernel_preds, cls_preds, mask_feats

    def _get_targets_single(
        self, gt_bboxes, gt_labels, gt_masks, featmap_size=None
    ):
        """Per level: mask targets (P, H, W) uint8 (one per gt and cell, in
        gt order, a cell may repeat), labels (S, S), positive flags (S^2,),
        cell indices (P,) of the targets."""
        device = gt_labels.device
        upsampled = (
            featmap_size[0] * self.mask_stride,
            featmap_size[1] * self.mask_stride,
        )
        out = ([], [], [], [])
        for bounds, grid in zip(self.scale_ranges, self.num_grids):
            labels = torch.full(
                [grid, grid], self.num_classes, dtype=torch.long, device=device
            )
            pos = torch.zeros([grid**2], dtype=torch.bool, device=device)
            targets, indexes = [], []
            cells = grid_cells_of_gts(
                gt_bboxes,
                gt_labels,
                gt_masks,
                bounds,
                grid,
                upsampled,
                self.pos_scale,
            )
            for label, top, down, left, right, mask in cells:
                labels[top : down + 1, left : right + 1] = label
                small = rescale_mask(mask, 1.0 / self.mask_stride)
                for i in range(top, down + 1):
                    for j in range(left, right + 1):
                        target = torch.zeros(
                            tuple(featmap_size),
                            dtype=torch.uint8,
                            device=device,
                        )
                        target[: small.shape[0], : small.shape[1]] = small
                        targets.append(target)
                        pos[i * grid + j] = True
                        indexes.append(i * grid + j)
            if targets:
                targets = torch.stack(targets)
            else:
                targets = torch.zeros(
                    [0, *featmap_size], dtype=torch.uint8, device=device
                )
            for store, value in zip(out, (targets, labels, pos, indexes)):
                store.append(value)
        return out

    def _kernel_weights(self, kernels):
        """(n, E*k*k) kernels -> (n, E, k, k) conv weights."""
        k = self.dynamic_conv_size
        if k == 1:
            # not view(): ONNX shape inference keeps an Unsqueeze's sizes,
            # and a Conv whose weight the graph computes needs them
            return kernels[:, :, None, None]
        return kernels.view(-1, self.kernel_out_channels // k**2, k, k)

    def _dynamic_masks(self, mask_feats, weights):
        """(1, E, H, W) features, (n, E, k, k) weights -> (n, H, W) logits."""
        return F.conv2d(mask_feats, weights, stride=1).view(
            -1, *mask_feats.shape[-2:]
        )

    def loss(
        self,
        mlvl_kernel_preds,
        mlvl_cls_preds,
        mask_feats,
        gt_labels,
        gt_masks,
        img_metas,
        gt_bboxes=None,
        **kwargs,
    ):
        """Dice loss of the dynamic masks of all positive (gt, cell) pairs,
        divided by the number of positive cells; focal class loss."""
        targets, labels, pos, indexes = multi_apply(
            self._get_targets_single,
            gt_bboxes,
            gt_labels,
            gt_masks,
            featmap_size=mask_feats.size()[-2:],
        )
        num_pos = sum(p.count_nonzero() for img in pos for p in img)
        losses = []
        for lvl, kernel_preds in enumerate(mlvl_kernel_preds):
            preds = []
            for img_id, kernel in enumerate(kernel_preds):
                idx = indexes[img_id][lvl]
                if len(idx) == 0:
                    continue
                kernels = kernel.view(kernel.size(0), -1)[:, idx].t()
                preds.append(
                    self._dynamic_masks(
                        mask_feats[[img_id]], self._kernel_weights(kernels)
                    )
                )
            if not preds:
                continue
            target = torch.cat([t[lvl] for t in targets])
            losses.append(
                self.loss_mask(
                    torch.cat(preds), target, reduction_override='none'
                )
            )
        if num_pos > 0:
            loss_mask = torch.cat(losses).sum() / num_pos
        else:
            loss_mask = mask_feats.sum() * 0
        return dict(
            loss_mask=loss_mask,
            loss_cls=self._cls_loss(mlvl_cls_preds, zip(*labels), num_pos),
        )

    def get_results(
        self,
        mlvl_kernel_preds,
        mlvl_cls_scores,
        mask_feats,
        img_metas,
        upsample=True,
        **kwargs,
    ):
        """Forward outputs -> result dict per image (sigmoid + point NMS of
        the class maps here, not in ``forward``; ``upsample``: see
        :func:`masks_to_results`)."""
        mlvl_cls_scores = [point_nms(s.sigmoid()) for s in mlvl_cls_scores]
        results = []
        for img_id, meta in enumerate(img_metas):
            results.append(
                self._get_results_single(
                    self._flat_levels(mlvl_kernel_preds, img_id),
                    self._flat_levels(mlvl_cls_scores, img_id),
                    mask_feats[[img_id]],
                    meta,
                    upsample=upsample,
                )
            )
        return results

    def _get_results_single(
        self,
        kernel_preds,
        cls_scores,
        mask_feats,
        img_meta,
        cfg=None,
        upsample=True,
    ):
        """(sum S^2, E*k*k) kernels, (sum S^2, C) scores, (1, E, H, W)."""
        cfg = self.test_cfg if cfg is None else cfg
        score_mask = cls_scores > cfg.score_thr
        scores = cls_scores[score_mask]
        inds = score_mask.nonzero()
        size = mask_feats.size()[-2:]
        if len(scores):
            # reshaped before the selection: the ONNX Conv needs its
            # weight's shape known where the graph computes it
            weights = self._kernel_weights(kernel_preds)[inds[:, 0]]
            probs = self._dynamic_masks(mask_feats, weights).sigmoid()
        elif torch.onnx.is_in_onnx_export():
            # (the graph itself takes images without candidates)
            raise ValueError(
                'SOLOv2 export: no class score of the example image is '
                f'above score_thr ({cfg.score_thr}), and the dynamic mask '
                'convolution cannot be traced on none: export on an image '
                'with objects (--input-img)'
            )
        else:  # an eager conv2d takes no empty weight
            probs = mask_feats.new_zeros(0, *size)
        return masks_to_results(
            probs,
            scores,
            inds[:, 1],
            self._candidate_strides(inds[:, 0]),
            img_meta,
            cfg,
            (size[0] * self.mask_stride, size[1] * self.mask_stride),
            upsample,
        )
