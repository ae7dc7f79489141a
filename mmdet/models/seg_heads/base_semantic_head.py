"""Base of the semantic-segmentation heads of panoptic segmentors."""

from abc import ABCMeta, abstractmethod

import torch.nn.functional as F
from mmcv.runner import BaseModule

from ..builder import build_loss


class BaseSemanticHead(BaseModule, metaclass=ABCMeta):
    """``forward(x)`` gives a dict with 'seg_preds' (B, num_classes, h, w)
    logits and 'feats'; the loss is ``loss_seg`` per pixel."""

    def __init__(
        self,
        num_classes,
        init_cfg=None,
        loss_seg=dict(
            type='CrossEntropyLoss', ignore_index=255, loss_weight=1.0
        ),
    ):
        super().__init__(init_cfg)
        self.loss_seg = build_loss(loss_seg)
        self.num_classes = num_classes

    @abstractmethod
    def forward(self, x):
        """Dict with 'seg_preds' and 'feats'."""

    def loss(self, seg_preds, gt_semantic_seg):
        """``seg_preds`` (B, C, h, w), resized (bilinear) to the (B, 1, H,
        W) labels when their sizes differ -> dict(loss_seg)."""
        if seg_preds.shape[-2:] != gt_semantic_seg.shape[-2:]:
            seg_preds = F.interpolate(
                seg_preds,
                gt_semantic_seg.shape[-2:],
                mode='bilinear',
                align_corners=False,
            )
        logits = seg_preds.permute(0, 2, 3, 1).reshape(-1, self.num_classes)
        labels = gt_semantic_seg.reshape(-1).long()
        return dict(loss_seg=self.loss_seg(logits, labels))

    def forward_train(self, x, gt_semantic_seg):
        return self.loss(self.forward(x)['seg_preds'], gt_semantic_seg)

    def simple_test(self, x, img_metas, rescale=False):
        """(B, C, H, W) logits at the padded size of the first image; with
        ``rescale`` cropped to its image and resized to its original
        size (bilinear)."""
        seg_preds = F.interpolate(
            self.forward(x)['seg_preds'],
            size=img_metas[0]['pad_shape'][:2],
            mode='bilinear',
            align_corners=False,
        )
        if rescale:
            h, w = img_metas[0]['img_shape'][:2]
            seg_preds = F.interpolate(
                seg_preds[:, :, :h, :w],
                size=img_metas[0]['ori_shape'][:2],
                mode='bilinear',
                align_corners=False,
            )
        return seg_preds
