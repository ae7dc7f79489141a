"""SCNet's RoI head (Vu et al., AAAI 2021): a box cascade whose RoI
features get the semantic and global context features, and one mask head
run once, after the last stage, on features relayed from its box head."""

import torch

from mmdet.core import bbox2result, bbox2roi
from mmdet.utils.arg_errors import check_arg
from ..builder import HEADS, build_head, build_roi_extractor
from .htc_roi_head import HybridTaskCascadeRoIHead
from .test_mixins import mask_inputs, seg_masks_per_image


@HEADS.register_module()
class SCNetRoIHead(HybridTaskCascadeRoIHead):
    """Cascade box stages (:class:`SCNetBBoxHead`), then a single mask
    head (:class:`SCNetMaskHead`) on the last stage's positives.

    Args:
        num_stages, stage_loss_weights: as :class:`CascadeRoIHead`.
        semantic_roi_extractor, semantic_head (dict, optional): the
            semantic branch, added to box and mask RoI features.
        feat_relay_head (dict, optional): maps the last box head's shared
            features to mask-feature size (added to the mask features).
        glbctx_head (dict, optional): image-level context added to every
            RoI feature (``loss_glbctx`` on the image's label set).
        **kwargs: :class:`CascadeRoIHead`'s other arguments; one
            ``mask_roi_extractor`` and one ``mask_head``.
    """

    def __init__(
        self,
        num_stages,
        stage_loss_weights,
        semantic_roi_extractor=None,
        semantic_head=None,
        feat_relay_head=None,
        glbctx_head=None,
        **kwargs,
    ):
        super().__init__(
            num_stages,
            stage_loss_weights,
            semantic_roi_extractor=semantic_roi_extractor,
            semantic_head=semantic_head,
            **kwargs,
        )
        check_arg(
            self.with_bbox and self.with_mask,
            'SCNetRoIHead',
            'needs box and mask heads',
        )
        check_arg(
            not self.with_shared_head,
            'SCNetRoIHead',
            'a shared head is not supported',
        )
        if feat_relay_head is not None:
            self.feat_relay_head = build_head(feat_relay_head)
        if glbctx_head is not None:
            self.glbctx_head = build_head(glbctx_head)

    def init_mask_head(self, mask_roi_extractor, mask_head):
        if mask_roi_extractor is not None:
            self.mask_roi_extractor = build_roi_extractor(mask_roi_extractor)
            self.mask_head = build_head(mask_head)

    @property
    def with_feat_relay(self):
        return getattr(self, 'feat_relay_head', None) is not None

    @property
    def with_glbctx(self):
        return getattr(self, 'glbctx_head', None) is not None

    # ----------------------------------------------------------- forward
    def _fuse_glbctx(self, roi_feats, glbctx_feat, rois):
        """Each RoI's features plus its image's (C, 1, 1) context."""
        if glbctx_feat is None or not self.with_glbctx:
            return roi_feats
        return roi_feats + glbctx_feat[rois[:, 0].long()]

    def _slice_pos_feats(self, feats, sampling_results):
        """Rows of the positives (first in each image's samples)."""
        keep = torch.cat(
            [
                torch.arange(len(res.bboxes)) < len(res.pos_bboxes)
                for res in sampling_results
            ]
        )
        return feats[keep.to(feats.device)]

    def _bbox_forward(
        self, stage, x, rois, semantic_feat=None, glbctx_feat=None
    ):
        extractor = self.bbox_roi_extractor[stage]
        feats = extractor(x[: extractor.num_inputs], rois)
        if semantic_feat is not None:
            feats = self._fuse_semantic(feats, rois, semantic_feat, 'bbox')
        feats = self._fuse_glbctx(feats, glbctx_feat, rois)
        cls_score, bbox_pred, relayed_feat = self.bbox_head[stage](
            feats, return_shared_feat=True
        )
        return dict(
            cls_score=cls_score, bbox_pred=bbox_pred, relayed_feat=relayed_feat
        )

    def _mask_forward(
        self, x, rois, semantic_feat=None, glbctx_feat=None, relayed_feat=None
    ):
        extractor = self.mask_roi_extractor
        feats = extractor(x[: extractor.num_inputs], rois)
        if semantic_feat is not None:
            feats = self._fuse_semantic(feats, rois, semantic_feat, 'mask')
        feats = self._fuse_glbctx(feats, glbctx_feat, rois)
        if self.with_feat_relay and relayed_feat is not None:
            feats = feats + relayed_feat
        return dict(mask_pred=self.mask_head(feats))

    def _context(self, x):
        """Test-time ``semantic_feat`` and ``glbctx_feat`` (or None)."""
        glbctx_feat = self.glbctx_head(x)[1] if self.with_glbctx else None
        return dict(
            semantic_feat=self._semantic_feat(x), glbctx_feat=glbctx_feat
        )

    # ---------------------------------------------------------- training
    def forward_train(
        self,
        x,
        img_metas,
        proposal_list,
        gt_bboxes,
        gt_labels,
        gt_bboxes_ignore=None,
        gt_masks=None,
        gt_semantic_seg=None,
    ):
        """``loss_semantic_seg``, ``loss_glbctx``, per-stage ``s{i}.*``
        box losses (weighted) and ``loss_mask`` (weighted by the sum of the
        stage weights)."""
        if gt_bboxes_ignore is None:
            gt_bboxes_ignore = [None] * len(img_metas)
        losses = dict()
        semantic_feat = glbctx_feat = None
        if self.with_semantic:
            semantic_pred, semantic_feat = self.semantic_head(x)
            losses['loss_semantic_seg'] = self.semantic_head.loss(
                semantic_pred, gt_semantic_seg
            )
        if self.with_glbctx:
            mc_pred, glbctx_feat = self.glbctx_head(x)
            losses['loss_glbctx'] = self.glbctx_head.loss(mc_pred, gt_labels)
        targets = (gt_bboxes, gt_labels, gt_bboxes_ignore)
        for stage in range(self.num_stages):
            self.current_stage = stage
            weight = self.stage_loss_weights[stage]
            sampling_results = self._sample(stage, x, proposal_list, *targets)
            bbox_results = self._stage_train(
                stage, x, sampling_results, semantic_feat, glbctx_feat
            )
            for name, value in bbox_results['loss_bbox'].items():
                losses[f's{stage}.{name}'] = (
                    value * weight if 'loss' in name else value
                )
            if stage < self.num_stages - 1:
                # MMDetection 2.28's SCNet regresses negatives with the
                # background label's deltas (no argmax, unlike its cascade)
                with torch.no_grad():
                    proposal_list = self.bbox_head[stage].refine_bboxes(
                        bbox_results['rois'],
                        bbox_results['bbox_targets'][0],
                        bbox_results['bbox_pred'],
                        [res.pos_is_gt for res in sampling_results],
                        img_metas,
                    )
        relayed_feat = None
        if self.with_feat_relay:
            relayed_feat = self.feat_relay_head(
                self._slice_pos_feats(
                    bbox_results['relayed_feat'], sampling_results
                )
            )
        loss_mask = self._mask_train(
            x,
            sampling_results,
            gt_masks,
            semantic_feat,
            glbctx_feat,
            relayed_feat,
        )
        losses['loss_mask'] = sum(self.stage_loss_weights) * loss_mask
        return losses

    def _stage_train(
        self, stage, x, sampling_results, semantic_feat, glbctx_feat
    ):
        rois = bbox2roi([res.bboxes for res in sampling_results])
        results = self._bbox_forward(
            stage, x, rois, semantic_feat, glbctx_feat
        )
        head = self.bbox_head[stage]
        targets = head.get_targets(
            sampling_results, None, None, self.train_cfg[stage]
        )
        loss_bbox = head.loss(
            results['cls_score'], results['bbox_pred'], rois, *targets
        )
        results.update(loss_bbox=loss_bbox, rois=rois, bbox_targets=targets)
        return results

    def _mask_train(
        self,
        x,
        sampling_results,
        gt_masks,
        semantic_feat,
        glbctx_feat,
        relayed_feat,
    ):
        pos_rois = bbox2roi([res.pos_bboxes for res in sampling_results])
        mask_pred = self._mask_forward(
            x, pos_rois, semantic_feat, glbctx_feat, relayed_feat
        )['mask_pred']
        targets = self.mask_head.get_targets(
            sampling_results, gt_masks, self.train_cfg[-1]
        )
        labels = torch.cat([res.pos_gt_labels for res in sampling_results])
        return self.mask_head.loss(mask_pred, targets, labels)['loss_mask']

    # --------------------------------------------------------- inference
    def simple_test(self, x, proposal_list, img_metas, rescale=False):
        """Per image ``(bbox_results, segm_results)``: ``num_classes``
        (n, 5) arrays and per class lists of (H, W) bool masks."""
        if sum(len(p) for p in proposal_list) == 0:
            return self._empty_results(len(proposal_list))
        feats = self._context(x)
        counts = [len(p) for p in proposal_list]
        rois, scores, preds = self._stages_test(
            x, bbox2roi(proposal_list), counts, img_metas, **feats
        )
        last = self.bbox_head[-1]
        det_bboxes, det_labels = [], []
        for i, meta in enumerate(img_metas):
            det_bbox, det_label = last.get_bboxes(
                rois[i],
                scores[i],
                preds[i],
                meta['img_shape'],
                meta['scale_factor'],
                rescale=rescale,
                cfg=self.test_cfg,
            )
            det_bboxes.append(det_bbox)
            det_labels.append(det_label)
        bbox_results = [
            bbox2result(b, lab, last.num_classes)
            for b, lab in zip(det_bboxes, det_labels)
        ]
        segm_results = self._test_masks(
            x, img_metas, det_bboxes, det_labels, feats, rescale
        )
        return list(zip(bbox_results, segm_results))

    def _test_masks(
        self, x, img_metas, det_bboxes, det_labels, feats, rescale
    ):
        num_classes = self.mask_head.num_classes
        if all(b.size(0) == 0 for b in det_bboxes):
            return [[[] for _ in range(num_classes)] for _ in det_bboxes]
        scale_factors, input_bboxes = mask_inputs(
            det_bboxes, img_metas, rescale
        )
        mask_rois = bbox2roi(input_bboxes)
        relayed_feat = None
        if self.with_feat_relay:
            relayed_feat = self.feat_relay_head(
                self._bbox_forward(-1, x, mask_rois, **feats)['relayed_feat']
            )
        mask_pred = self._mask_forward(
            x, mask_rois, relayed_feat=relayed_feat, **feats
        )['mask_pred']
        return seg_masks_per_image(
            self.mask_head,
            mask_pred.split([len(b) for b in det_bboxes]),
            input_bboxes,
            det_labels,
            img_metas,
            scale_factors,
            self.test_cfg,
            rescale,
        )
