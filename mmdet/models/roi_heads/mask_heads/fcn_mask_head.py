"""Mask R-CNN's mask head: a small FCN on 14x14 RoI features that predicts
a 28x28 mask per class, and the pasting of those masks into the image."""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule, build_conv_layer, build_upsample_layer
from mmcv.runner import BaseModule, auto_fp16, force_fp32
from torch.nn.modules.utils import _pair

from mmdet.core import mask_target
from mmdet.models.builder import HEADS, build_loss
from mmdet.models.utils.carafe import CARAFEPack

BYTES_PER_FLOAT = 4
# pasting on a GPU works on as many masks at once as fit in this budget
GPU_MEM_LIMIT = 1024**3

UPSAMPLE_METHODS = (None, 'deconv', 'nearest', 'bilinear', 'carafe')


def _do_paste_mask(masks, boxes, img_h, img_w, skip_empty=True):
    """Paste box-relative masks into an image by bilinear sampling.

    Image pixel ``(y, x)`` has its centre at ``(y + 0.5, x + 0.5)``; it
    samples the mask at that point's position relative to the box, the
    mask covering the box exactly (``grid_sample`` with
    ``align_corners=False``, zero outside the mask).

    Args:
        masks (Tensor): (N, 1, h, w) mask probabilities.
        boxes (Tensor): (N, 4) boxes ``x1, y1, x2, y2`` in image pixels.
        img_h, img_w (int): image size.
        skip_empty (bool): compute only the part of the image around the
            boxes (plus a one-pixel margin) instead of all of it.

    Returns:
        tuple[Tensor, tuple]: (N, h', w') pasted probabilities and the
        region of the image they cover, as a tuple of slices (empty for
        the whole image).
    """
    if skip_empty:
        x0_int, y0_int = (
            torch.clamp(boxes.min(dim=0).values.floor()[:2] - 1, min=0)
            .int()
            .tolist()
        )
        x1_int = int(torch.clamp(boxes[:, 2].max().ceil() + 1, max=img_w))
        y1_int = int(torch.clamp(boxes[:, 3].max().ceil() + 1, max=img_h))
        # boxes wholly right of / below the image (unclipped predictions,
        # e.g. Sparse R-CNN's) cover an empty region instead of failing
        x0_int, y0_int = min(x0_int, x1_int), min(y0_int, y1_int)
    else:
        x0_int, y0_int, x1_int, y1_int = 0, 0, img_w, img_h
    x0, y0, x1, y1 = boxes.float().split(1, dim=1)  # each (N, 1)
    device = masks.device
    centres_y = torch.arange(y0_int, y1_int, device=device).float() + 0.5
    centres_x = torch.arange(x0_int, x1_int, device=device).float() + 0.5
    # box-relative coordinates in [-1, 1], (N, h') and (N, w')
    grid_y = (centres_y - y0) / (y1 - y0) * 2 - 1
    grid_x = (centres_x - x0) / (x1 - x0) * 2 - 1
    # a degenerate (zero-size) box divides by zero: sample its centre
    grid_y = torch.where(torch.isinf(grid_y), torch.zeros_like(grid_y), grid_y)
    grid_x = torch.where(torch.isinf(grid_x), torch.zeros_like(grid_x), grid_x)
    num = masks.size(0)
    grid = torch.stack(
        [
            grid_x[:, None, :].expand(num, grid_y.size(1), grid_x.size(1)),
            grid_y[:, :, None].expand(num, grid_y.size(1), grid_x.size(1)),
        ],
        dim=3,
    )
    pasted = F.grid_sample(
        masks.float(), grid, mode='bilinear', align_corners=False
    )[:, 0]
    if skip_empty:
        return pasted, (slice(y0_int, y1_int), slice(x0_int, x1_int))
    return pasted, ()


def _scale_tensor(scale_factor, like):
    """``scale_factor`` (float, (4,) array or Tensor) as a (4,) tensor of
    ``like``'s dtype and device."""
    if isinstance(scale_factor, torch.Tensor):
        return scale_factor.to(like).expand(4)
    scale = np.broadcast_to(np.asarray(scale_factor, dtype=np.float32), (4,))
    return like.new_tensor(scale.copy())


@HEADS.register_module()
class FCNMaskHead(BaseModule):
    """``num_convs`` 3x3 convs (``convs.i.conv``), a 2x upsampling
    (``upsample``, a transposed conv followed by ReLU by default) and a 1x1
    conv to one mask per class (``conv_logits``).

    Args:
        num_convs (int): number of 3x3 convs.
        roi_feat_size (int): size of the input RoI features (14).
        in_channels (int): channels of the RoI features.
        conv_kernel_size (int): kernel of the convs.
        conv_out_channels (int): channels of the convs.
        num_classes (int): object classes.
        class_agnostic (bool): one mask per RoI instead of per class.
        upsample_cfg (dict): ``type`` in (None, 'deconv', 'nearest',
            'bilinear', 'carafe') and ``scale_factor`` (plus CARAFEPack's
            arguments for 'carafe').
        conv_cfg, norm_cfg (dict, optional): conv and norm configs.
        predictor_cfg (dict): the ``conv_logits`` layer config.
        loss_mask (dict): loss config (``CrossEntropyLoss(use_mask=
            True)``).
        init_cfg (dict, optional): initialization config.
    """

    def __init__(
        self,
        num_convs=4,
        roi_feat_size=14,
        in_channels=256,
        conv_kernel_size=3,
        conv_out_channels=256,
        num_classes=80,
        class_agnostic=False,
        upsample_cfg=dict(type='deconv', scale_factor=2),
        conv_cfg=None,
        norm_cfg=None,
        predictor_cfg=dict(type='Conv'),
        loss_mask=dict(
            type='CrossEntropyLoss', use_mask=True, loss_weight=1.0
        ),
        init_cfg=None,
    ):
        assert init_cfg is None, 'FCNMaskHead initializes its own weights'
        super().__init__(init_cfg)
        upsample_cfg = dict(upsample_cfg)
        self.upsample_method = upsample_cfg.get('type')
        if self.upsample_method not in UPSAMPLE_METHODS:
            raise ValueError(
                f'unknown upsample type {self.upsample_method!r}'
                f'; choose from {UPSAMPLE_METHODS}'
            )
        self.num_convs = num_convs
        self.roi_feat_size = _pair(roi_feat_size)
        self.in_channels = in_channels
        self.conv_kernel_size = conv_kernel_size
        self.conv_out_channels = conv_out_channels
        self.num_classes = num_classes
        self.class_agnostic = class_agnostic
        self.upsample_cfg = upsample_cfg
        self.scale_factor = upsample_cfg.get('scale_factor')
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.predictor_cfg = predictor_cfg
        self.fp16_enabled = False
        self.loss_mask = build_loss(loss_mask)

        self.convs = nn.ModuleList(
            [
                ConvModule(
                    in_channels if i == 0 else conv_out_channels,
                    conv_out_channels,
                    conv_kernel_size,
                    padding=(conv_kernel_size - 1) // 2,
                    conv_cfg=conv_cfg,
                    norm_cfg=norm_cfg,
                )
                for i in range(num_convs)
            ]
        )
        upsample_in = conv_out_channels if num_convs > 0 else in_channels
        self.upsample = self._build_upsample(upsample_in)
        logits_in = (
            conv_out_channels
            if self.upsample_method == 'deconv'
            else upsample_in
        )
        out_channels = 1 if class_agnostic else num_classes
        self.conv_logits = build_conv_layer(
            predictor_cfg, logits_in, out_channels, 1
        )
        self.relu = nn.ReLU(inplace=True)
        self.debug_imgs = None

    def _build_upsample(self, in_channels):
        if self.upsample_method is None:
            return None
        cfg = dict(self.upsample_cfg)
        if self.upsample_method == 'deconv':
            scale = cfg.pop('scale_factor')
            cfg.update(
                in_channels=in_channels,
                out_channels=self.conv_out_channels,
                kernel_size=scale,
                stride=scale,
            )
        elif self.upsample_method == 'carafe':
            cfg.update(channels=in_channels)
        else:
            cfg.update(
                mode=self.upsample_method,
                align_corners=None
                if self.upsample_method == 'nearest'
                else False,
            )
        return build_upsample_layer(cfg)

    def init_weights(self):
        """Kaiming-normal (fan_out) upsampling and logits convs, zero bias;
        the 3x3 convs keep ConvModule's own initialization."""
        super().init_weights()
        for m in (self.upsample, self.conv_logits):
            if isinstance(m, CARAFEPack):
                m.init_weights()
            elif m is not None and hasattr(m, 'weight') and hasattr(m, 'bias'):
                nn.init.kaiming_normal_(
                    m.weight, mode='fan_out', nonlinearity='relu'
                )
                nn.init.constant_(m.bias, 0)

    @auto_fp16()
    def forward(self, x):
        """(K, C, 14, 14) RoI features -> (K, num_classes, 28, 28) mask
        logits."""
        for conv in self.convs:
            x = conv(x)
        if self.upsample is not None:
            x = self.upsample(x)
            if self.upsample_method == 'deconv':
                x = self.relu(x)
        return self.conv_logits(x)

    def get_targets(self, sampling_results, gt_masks, rcnn_train_cfg):
        """(P, mask_size, mask_size) binary targets of the positive RoIs of
        all images: each gt mask cropped to the RoI and resized."""
        pos_proposals = [res.pos_bboxes for res in sampling_results]
        pos_assigned_gt_inds = [
            res.pos_assigned_gt_inds for res in sampling_results
        ]
        return mask_target(
            pos_proposals, pos_assigned_gt_inds, gt_masks, rcnn_train_cfg
        )

    @force_fp32(apply_to=('mask_pred',))
    def loss(self, mask_pred, mask_targets, labels):
        """``loss_mask``: per-pixel sigmoid cross entropy of each RoI's
        class channel against its target.

        Args:
            mask_pred (Tensor): (P, num_classes, h, w) logits.
            mask_targets (Tensor): (P, h, w) binary targets.
            labels (Tensor): (P,) gt class of each positive RoI.
        """
        if mask_pred.size(0) == 0:
            return dict(loss_mask=mask_pred.sum())
        if self.class_agnostic:
            labels = torch.zeros_like(labels)
        return dict(loss_mask=self.loss_mask(mask_pred, mask_targets, labels))

    def get_seg_masks(
        self,
        mask_pred,
        det_bboxes,
        det_labels,
        rcnn_test_cfg,
        ori_shape,
        scale_factor,
        rescale,
    ):
        """Binary image masks of one image's detections.

        Args:
            mask_pred (Tensor | ndarray): (n, num_classes, h, w) logits
                (a Tensor) or probabilities (an array).
            det_bboxes (Tensor): (n, 4 or 5) boxes in network-input pixels.
            det_labels (Tensor): (n,) labels.
            rcnn_test_cfg (dict): with ``mask_thr_binary`` (a negative
                value gives uint8 probabilities * 255 instead).
            ori_shape (tuple): (H, W, ...) of the original image.
            scale_factor (ndarray | Tensor | float): ``[w, h, w, h]``
                input / original scale.
            rescale (bool): paste into the original image (boxes divided
                by ``scale_factor``); else into the input-sized image
                ``round(H * h_scale) x round(W * w_scale)``.

        Returns:
            list[list[ndarray]]: per class, the (H, W) masks of its
            detections.
        """
        if isinstance(mask_pred, torch.Tensor):
            mask_prob = mask_pred.sigmoid()
        else:
            mask_prob = det_bboxes.new_tensor(mask_pred)
        device = mask_prob.device
        cls_segms = [[] for _ in range(self.num_classes)]
        bboxes = det_bboxes[:, :4]
        labels = det_labels
        scale_factor = _scale_tensor(scale_factor, bboxes)
        if rescale:
            img_h, img_w = ori_shape[:2]
            bboxes = bboxes / scale_factor
        else:
            img_h = int(np.round(ori_shape[0] * scale_factor[1].item()))
            img_w = int(np.round(ori_shape[1] * scale_factor[0].item()))

        num = len(mask_prob)
        if num == 0:
            return cls_segms
        if not self.class_agnostic:
            mask_prob = mask_prob[torch.arange(num, device=device), labels][
                :, None
            ]
        threshold = rcnn_test_cfg['mask_thr_binary']
        im_mask = torch.zeros(
            num,
            img_h,
            img_w,
            device=device,
            dtype=torch.bool if threshold >= 0 else torch.uint8,
        )
        if device.type == 'cpu':
            # one mask at a time, only around its box
            chunks = torch.arange(num, device=device).split(1)
            skip_empty = True
        else:
            # whole-image pastes, as many at once as the memory budget allows
            num_chunks = int(
                np.ceil(
                    num
                    * int(img_h)
                    * int(img_w)
                    * BYTES_PER_FLOAT
                    / GPU_MEM_LIMIT
                )
            )
            chunks = torch.arange(num, device=device).chunk(num_chunks)
            skip_empty = False
        for inds in chunks:
            probs, region = _do_paste_mask(
                mask_prob[inds],
                bboxes[inds],
                img_h,
                img_w,
                skip_empty=skip_empty,
            )
            if threshold >= 0:
                probs = probs >= threshold
            else:
                probs = (probs * 255).to(torch.uint8)
            im_mask[(inds,) + region] = probs
        im_mask = im_mask.cpu().numpy()
        for i, label in enumerate(labels.tolist()):
            cls_segms[label].append(im_mask[i])
        return cls_segms
