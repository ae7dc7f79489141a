"""Base class of the dense (per-position) heads, with the one test-time
post-processing path they share (MMDetection 2.28's ``get_bboxes``).

Per image and level: class scores (sigmoid, or softmax without the
background), the ``nms_pre`` best (prior, class) pairs above
``score_thr``, their boxes decoded from the priors (clipped to the image).
Then for all levels together (``_bbox_post_process``): boxes rescaled to
the original image if asked, scores multiplied by the score factors (e.g.
centerness) if any, a class-wise NMS and the ``max_per_img`` best.

A head plugs in by having ``prior_generator``, ``bbox_coder``,
``cls_out_channels``, ``use_sigmoid_cls`` and ``test_cfg``, and by
passing its per-level score factors (if any) as ``get_bboxes``'s third
argument; it overrides ``_decode_level`` where its decoding is not its
``bbox_coder``'s, ``_get_bboxes_single`` (per-level selection and
decoding) or ``_bbox_post_process`` (merging and NMS) only where its
post-processing differs (the RPN does both).
"""

from abc import ABCMeta, abstractmethod

import torch
from mmcv.runner import BaseModule, force_fp32

from mmdet.core import (
    batched_nms,
    bbox_mapping_back,
    filter_scores_and_topk,
    select_single_mlvl,
)


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

    Subclasses define ``forward(feats)`` and ``loss(...)``; this class
    gives them the test-time post-processing (``get_bboxes``) and the
    training and test entry points that the detectors call.
    """

    def __init__(self, init_cfg=None):
        super().__init__(init_cfg)

    @abstractmethod
    def loss(self, **kwargs):
        """Dict of losses of the head's outputs against the targets."""

    @force_fp32(apply_to=('cls_scores', 'bbox_preds', 'score_factors'))
    def get_bboxes(
        self,
        cls_scores,
        bbox_preds,
        score_factors=None,
        img_metas=None,
        cfg=None,
        rescale=False,
        with_nms=True,
        **kwargs,
    ):
        """Detections of every image.

        Args:
            cls_scores (list[Tensor]): per level (B, A*cls_out, H, W).
            bbox_preds (list[Tensor]): per level (B, A*4, H, W).
            score_factors (list[Tensor], optional): per level (B, A, H, W)
                logits of factors (centerness) multiplied into the scores.
            img_metas (list[dict]): per image meta ('img_shape',
                'scale_factor').
            cfg (dict, optional): test settings; ``self.test_cfg`` if None.
            rescale (bool): boxes in original-image pixels.
            with_nms (bool): False returns the boxes before NMS.
            **kwargs: passed on to ``_get_bboxes_single``.

        Returns:
            list[tuple]: per image ``(det_bboxes (n, 5), det_labels (n,))``;
            without NMS ``(bboxes (n, 4), scores (n,), labels (n,))``
            (heads that override ``_get_bboxes_single`` may differ: the
            RPN gives (n, 5) proposals).
        """
        if len(cls_scores) != len(bbox_preds):
            raise ValueError(
                f'{len(cls_scores)} levels of class scores but '
                f'{len(bbox_preds)} of box predictions'
            )
        num_levels = len(cls_scores)
        if score_factors is not None and len(score_factors) != num_levels:
            raise ValueError(
                f'{num_levels} levels of class scores but '
                f'{len(score_factors)} of score factors'
            )
        featmap_sizes = [score.shape[-2:] for score in cls_scores]
        mlvl_priors = self.prior_generator.grid_priors(
            featmap_sizes,
            dtype=cls_scores[0].dtype,
            device=cls_scores[0].device,
        )
        results = []
        for img_id, img_meta in enumerate(img_metas):
            if score_factors is None:
                factors = [None] * num_levels
            else:
                factors = select_single_mlvl(score_factors, img_id)
            results.append(
                self._get_bboxes_single(
                    select_single_mlvl(cls_scores, img_id),
                    select_single_mlvl(bbox_preds, img_id),
                    factors,
                    mlvl_priors,
                    img_meta,
                    cfg,
                    rescale,
                    with_nms,
                    **kwargs,
                )
            )
        return results

    def _get_bboxes_single(
        self,
        cls_score_list,
        bbox_pred_list,
        score_factor_list,
        mlvl_priors,
        img_meta,
        cfg,
        rescale=False,
        with_nms=True,
        **kwargs,
    ):
        """Detections of one image from its per-level maps.

        Args:
            cls_score_list (list[Tensor]): per level (A*cls_out, H, W).
            bbox_pred_list (list[Tensor]): per level (A*4, H, W).
            score_factor_list (list[Tensor | None]): per level (A, H, W)
                logits, or None at every level for heads without factors.
            mlvl_priors (list[Tensor]): per level (H*W*A, 4) anchors or
                (H*W, 2) points.
            img_meta (dict): the image's meta.
            cfg (dict | None): test settings; ``self.test_cfg`` if None.
        """
        cfg = self.test_cfg if cfg is None else cfg
        nms_pre = cfg.get('nms_pre', -1)
        with_score_factors = score_factor_list[0] is not None
        mlvl_bboxes, mlvl_scores, mlvl_labels, mlvl_factors = [], [], [], []
        levels = zip(
            cls_score_list, bbox_pred_list, score_factor_list, mlvl_priors
        )
        for level, (cls_score, bbox_pred, factor, priors) in enumerate(levels):
            bbox_pred = bbox_pred.permute(1, 2, 0).reshape(-1, 4)
            scores = self._class_scores(
                cls_score.permute(1, 2, 0).reshape(-1, self.cls_out_channels)
            )
            # nms_pre <= 0 keeps every pair above score_thr
            topk = nms_pre if nms_pre > 0 else scores.numel()
            scores, labels, keep, kept = filter_scores_and_topk(
                scores,
                cfg['score_thr'],
                topk,
                dict(bbox_pred=bbox_pred, priors=priors),
            )
            mlvl_bboxes.append(
                self._decode_level(
                    level,
                    kept['priors'],
                    kept['bbox_pred'],
                    img_meta['img_shape'],
                )
            )
            mlvl_scores.append(scores)
            mlvl_labels.append(labels)
            if with_score_factors:
                factor = factor.permute(1, 2, 0).reshape(-1)
                mlvl_factors.append(factor.sigmoid()[keep])
        return self._bbox_post_process(
            torch.cat(mlvl_scores),
            torch.cat(mlvl_labels),
            torch.cat(mlvl_bboxes),
            img_meta['scale_factor'],
            cfg,
            rescale,
            with_nms,
            torch.cat(mlvl_factors) if with_score_factors else None,
            **kwargs,
        )

    def _decode_level(self, level, priors, bbox_pred, img_shape):
        """(n, 4) boxes of one level's kept priors and predictions,
        clipped to ``img_shape``; heads whose decoding depends on the level
        (FoveaBox) override it."""
        return self.bbox_coder.decode(priors, bbox_pred, max_shape=img_shape)

    def _class_scores(self, logits):
        """(..., cls_out) logits -> (..., num_classes) probabilities."""
        if self.use_sigmoid_cls:
            return logits.sigmoid()
        return logits.softmax(-1)[..., :-1]  # background is the last

    def _bbox_post_process(
        self,
        mlvl_scores,
        mlvl_labels,
        mlvl_bboxes,
        scale_factor,
        cfg,
        rescale=False,
        with_nms=True,
        mlvl_score_factors=None,
        **kwargs,
    ):
        """Rescale, apply the score factors, then NMS per class.

        Args:
            mlvl_scores, mlvl_labels (Tensor): (n,) of every kept (prior,
                class) pair, all levels.
            mlvl_bboxes (Tensor): (n, 4) boxes in input-image pixels.
            scale_factor (ndarray): (4,) input / original image size.
            mlvl_score_factors (Tensor, optional): (n,) factors in [0, 1].

        Returns:
            tuple: ``(det_bboxes (k, 5), det_labels (k,))``, or without NMS
            ``(bboxes (n, 4), scores (n,), labels (n,))``.
        """
        bboxes, scores, labels = mlvl_bboxes, mlvl_scores, mlvl_labels
        if rescale:
            bboxes = bboxes / bboxes.new_tensor(scale_factor)
        if mlvl_score_factors is not None:
            scores = scores * mlvl_score_factors
        if not with_nms:
            return bboxes, scores, labels
        if bboxes.numel() == 0:
            return torch.cat([bboxes, scores[:, None]], -1), labels
        dets, keep = batched_nms(bboxes, scores, labels, cfg['nms'])
        max_per_img = cfg['max_per_img']
        return dets[:max_per_img], labels[keep][:max_per_img]

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
