"""Base class of the dense (per-position) heads."""

from abc import ABCMeta, abstractmethod

import torch
from mmcv.runner import BaseModule

from mmdet.core import batched_nms, bbox_mapping_back


def flatten_level_maps(maps, channels):
    """Per-level maps (B, A*channels, H, W) -> one (B, sum(H*W*A), channels).

    The flattened order is level, then position (row-major), then anchor:
    the order of the anchors from ``AnchorGenerator.grid_priors``.
    """
    return torch.cat(
        [m.permute(0, 2, 3, 1).reshape(m.size(0), -1, channels) for m in maps],
        dim=1,
    )


class BaseDenseHead(BaseModule, metaclass=ABCMeta):
    """A head that predicts at every position of every feature level.

    Subclasses define ``forward(feats)``, ``loss(...)`` and ``get_bboxes(
    ...)``; this class gives them the training and test entry points that
    the detectors call.
    """

    def __init__(self, init_cfg=None):
        super().__init__(init_cfg)

    @abstractmethod
    def loss(self, **kwargs):
        """Dict of losses of the head's outputs against the targets."""

    @abstractmethod
    def get_bboxes(self, **kwargs):
        """Boxes of every image from the head's outputs."""

    def forward_train(
        self,
        x,
        img_metas,
        gt_bboxes,
        gt_labels=None,
        gt_bboxes_ignore=None,
        proposal_cfg=None,
    ):
        """Losses, and the boxes (proposals) when ``proposal_cfg`` is given.

        Args:
            x (tuple[Tensor]): feature levels, each (B, C, H, W).
            img_metas (list[dict]): per image, with 'img_shape',
                'pad_shape', 'scale_factor'.
            gt_bboxes (list[Tensor]): per image (k, 4) x1y1x2y2 boxes in
                input-image pixels.
            gt_labels (list[Tensor], optional): per image (k,) labels; None
                for class-agnostic heads such as the RPN.
            gt_bboxes_ignore (list[Tensor], optional): per image boxes
                neither positive nor negative.
            proposal_cfg (dict, optional): test settings for the boxes.

        Returns:
            dict | tuple[dict, list]: the losses, or the losses and, per
            image, the detections ((n, 5) for an RPN).
        """
        outs = self(x)
        if gt_labels is None:
            losses = self.loss(
                *outs, gt_bboxes, img_metas, gt_bboxes_ignore=gt_bboxes_ignore
            )
        else:
            losses = self.loss(
                *outs,
                gt_bboxes,
                gt_labels,
                img_metas,
                gt_bboxes_ignore=gt_bboxes_ignore,
            )
        if proposal_cfg is None:
            return losses
        proposal_list = self.get_bboxes(
            *outs, img_metas=img_metas, cfg=proposal_cfg
        )
        return losses, proposal_list

    def simple_test_bboxes(self, feats, img_metas, rescale=False):
        """Detections of a batch without test-time augmentation."""
        outs = self(feats)
        return self.get_bboxes(*outs, img_metas=img_metas, rescale=rescale)

    def simple_test(self, feats, img_metas, rescale=False):
        """Same as :meth:`simple_test_bboxes`."""
        return self.simple_test_bboxes(feats, img_metas, rescale=rescale)

    def aug_test_bboxes(self, feats, img_metas, rescale=False):
        """Detections of one image merged over augmentations: every
        augmentation's boxes before NMS, mapped back to the original image,
        then one class-wise NMS with the ``test_cfg``'s ``nms`` and
        ``max_per_img``.

        Args:
            feats (list[tuple[Tensor]]): per augmentation, the multi-level
                features of the (1, 3, H, W) image.
            img_metas (list[list[dict]]): per augmentation ``[meta]``.
            rescale (bool): boxes in original-image pixels; else in the
                first augmentation's resized pixels.

        Returns:
            list[tuple[Tensor, Tensor]]: one ``(dets, labels)``: (n, 5)
            ``x1, y1, x2, y2, score`` and (n,) labels.
        """
        cfg = self.test_cfg
        bboxes, scores, labels = [], [], []
        for x, metas in zip(feats, img_metas):
            boxes, box_scores, box_labels = self.get_bboxes(
                *self(x),
                img_metas=metas,
                cfg=cfg,
                rescale=False,
                with_nms=False,
            )[0]
            meta = metas[0]
            bboxes.append(
                bbox_mapping_back(
                    boxes,
                    meta['img_shape'],
                    meta['scale_factor'],
                    meta['flip'],
                    meta.get('flip_direction', 'horizontal'),
                )
            )
            scores.append(box_scores)
            labels.append(box_labels)
        bboxes, scores = torch.cat(bboxes), torch.cat(scores)
        labels = torch.cat(labels)
        if bboxes.numel() == 0:
            dets = torch.cat([bboxes, scores[:, None]], -1)
        else:
            dets, keep = batched_nms(bboxes, scores, labels, cfg['nms'])
            dets = dets[: cfg['max_per_img']]
            labels = labels[keep][: cfg['max_per_img']]
        if not rescale:
            dets = dets.clone()
            dets[:, :4] *= dets.new_tensor(img_metas[0][0]['scale_factor'])
        return [(dets, labels)]

    def aug_test(self, feats, img_metas, rescale=False):
        """Same as :meth:`aug_test_bboxes` (MMDetection's entry point)."""
        return self.aug_test_bboxes(feats, img_metas, rescale=rescale)

    def forward_dummy(self, feats):
        """Raw outputs, for FLOPs counting."""
        return self(feats)
