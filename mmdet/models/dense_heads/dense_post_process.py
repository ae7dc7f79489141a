"""Test-time post-processing of the single-stage heads, the way
MMDetection 2.28's ``BaseDenseHead.get_bboxes`` does it.

Per image and level: class scores (sigmoid or softmax), the ``nms_pre``
best (prior, class) pairs above ``score_thr``, their boxes decoded from
the priors (clipped to the image). Then for all levels together: boxes
rescaled to the original image if asked, scores multiplied by the score
factors (e.g. centerness) if any, a class-wise NMS and the
``max_per_img`` best detections.
"""

import torch
from mmcv.runner import force_fp32

from mmdet.core import batched_nms, filter_scores_and_topk, select_single_mlvl


class DensePostProcessMixin:
    """``get_bboxes`` for heads with ``prior_generator``, ``bbox_coder``,
    ``cls_out_channels``, ``use_sigmoid_cls`` and ``test_cfg``."""

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

        Returns:
            list[tuple]: per image ``(det_bboxes (n, 5), det_labels (n,))``;
            without NMS ``(bboxes (n, 4), scores (n,), labels (n,))``.
        """
        if len(cls_scores) != len(bbox_preds):
            raise ValueError(
                f'{len(cls_scores)} levels of class scores but '
                f'{len(bbox_preds)} of box predictions'
            )
        featmap_sizes = [score.shape[-2:] for score in cls_scores]
        mlvl_priors = self.prior_generator.grid_priors(
            featmap_sizes,
            dtype=cls_scores[0].dtype,
            device=cls_scores[0].device,
        )
        results = []
        for img_id, img_meta in enumerate(img_metas):
            factors = (
                None
                if score_factors is None
                else select_single_mlvl(score_factors, img_id)
            )
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
        rescale,
        with_nms,
    ):
        """Detections of one image from its per-level (C, H, W) maps."""
        cfg = self.test_cfg if cfg is None else cfg
        nms_pre = cfg.get('nms_pre', -1)
        mlvl_bboxes, mlvl_scores, mlvl_labels, mlvl_factors = [], [], [], []
        for lvl, (cls_score, bbox_pred, priors) in enumerate(
            zip(cls_score_list, bbox_pred_list, mlvl_priors)
        ):
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
                self.bbox_coder.decode(
                    kept['priors'],
                    kept['bbox_pred'],
                    max_shape=img_meta['img_shape'],
                )
            )
            mlvl_scores.append(scores)
            mlvl_labels.append(labels)
            if score_factor_list is not None:
                factor = score_factor_list[lvl].permute(1, 2, 0).reshape(-1)
                mlvl_factors.append(factor.sigmoid()[keep])
        return self._bbox_post_process(
            torch.cat(mlvl_scores),
            torch.cat(mlvl_labels),
            torch.cat(mlvl_bboxes),
            img_meta['scale_factor'],
            cfg,
            rescale,
            with_nms,
            torch.cat(mlvl_factors) if mlvl_factors else None,
        )

    def _class_scores(self, logits):
        """(N, cls_out) logits -> (N, num_classes) probabilities."""
        if self.use_sigmoid_cls:
            return logits.sigmoid()
        return logits.softmax(-1)[:, :-1]  # background is the last

    @staticmethod
    def _bbox_post_process(
        scores,
        labels,
        bboxes,
        scale_factor,
        cfg,
        rescale,
        with_nms,
        score_factors=None,
    ):
        """Rescale, apply the score factors, then NMS per class.

        Args:
            scores, labels (Tensor): (n,) of every kept (prior, class).
            bboxes (Tensor): (n, 4) boxes in input-image pixels.
            scale_factor (ndarray): (4,) input / original image size.
        """
        if rescale:
            bboxes = bboxes / bboxes.new_tensor(scale_factor)
        if score_factors is not None:
            scores = scores * score_factors
        if not with_nms:
            return bboxes, scores, labels
        if bboxes.numel() == 0:
            return torch.cat([bboxes, scores[:, None]], -1), labels
        dets, keep = batched_nms(bboxes, scores, labels, cfg['nms'])
        max_per_img = cfg['max_per_img']
        return dets[:max_per_img], labels[keep][:max_per_img]
