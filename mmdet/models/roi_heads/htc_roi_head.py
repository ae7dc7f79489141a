"""The RoI head of Hybrid Task Cascade (Chen et al., 2019): a cascade whose
box and mask branches alternate (interleaved), whose mask heads pass their
features on (mask information flow), and whose RoI features are enriched
with a pooled semantic segmentation feature."""

import torch
import torch.nn.functional as F

from mmdet.core import (
    bbox2result,
    bbox2roi,
    bbox_mapping,
    merge_aug_bboxes,
    merge_aug_masks,
    multiclass_nms,
)
from ..builder import HEADS, build_head, build_roi_extractor
from .cascade_roi_head import CascadeRoIHead
from .test_mixins import _aug_geometry, mask_inputs, seg_masks_per_image


@HEADS.register_module()
class HybridTaskCascadeRoIHead(CascadeRoIHead):
    """:class:`CascadeRoIHead` with HTC's three additions.

    * ``interleaved``: in training, stage ``i``'s mask head is trained on
      the boxes stage ``i``'s box head regressed (re-assigned and
      re-sampled), not on the boxes it was given.
    * ``mask_info_flow``: mask head ``i`` adds (through its ``conv_res``)
      the features of mask head ``i - 1``, which itself saw ``i - 2``'s...
      At test time every stage's masks come from one pass through the
      chain and their probabilities are averaged.
    * ``semantic_head`` (a :class:`FusedSemanticHead`): its embedding,
      pooled by ``semantic_roi_extractor``, is added to the box RoI
      features and/or the mask RoI features (``semantic_fusion``); its
      segmentation is trained on ``gt_semantic_seg``
      (``loss_semantic_seg``).

    Args:
        num_stages, stage_loss_weights: as :class:`CascadeRoIHead`.
        semantic_roi_extractor (dict, optional): pools the semantic
            embedding (one level, e.g. ``featmap_strides=[8]``).
        semantic_head (dict, optional): the semantic branch.
        semantic_fusion (tuple[str]): where to add the semantic feature:
            ``'bbox'``, ``'mask'``.
        interleaved (bool): interleaved box/mask training.
        mask_info_flow (bool): chain the mask heads' features.
        **kwargs: :class:`CascadeRoIHead`'s other arguments.
    """

    def __init__(
        self,
        num_stages,
        stage_loss_weights,
        semantic_roi_extractor=None,
        semantic_head=None,
        semantic_fusion=('bbox', 'mask'),
        interleaved=True,
        mask_info_flow=True,
        **kwargs,
    ):
        super().__init__(num_stages, stage_loss_weights, **kwargs)
        if semantic_head is not None:
            self.semantic_roi_extractor = build_roi_extractor(
                semantic_roi_extractor
            )
            self.semantic_head = build_head(semantic_head)
        self.semantic_fusion = semantic_fusion
        self.interleaved = interleaved
        self.mask_info_flow = mask_info_flow

    @property
    def with_semantic(self):
        return getattr(self, 'semantic_head', None) is not None

    # ----------------------------------------------------------- forward
    def _semantic_feat(self, x):
        """The semantic embedding (B, C, H/8, W/8) or None."""
        return self.semantic_head(x)[1] if self.with_semantic else None

    def _fuse_semantic(self, feats, rois, semantic_feat, branch):
        """(K, C, h, w) RoI ``feats`` plus the semantic embedding pooled at
        ``rois`` when ``branch`` ('bbox' or 'mask') is fused."""
        if not self.with_semantic or branch not in self.semantic_fusion:
            return feats
        pooled = self.semantic_roi_extractor([semantic_feat], rois)
        if pooled.shape[-2:] != feats.shape[-2:]:
            pooled = F.adaptive_avg_pool2d(pooled, feats.shape[-2:])
        return feats + pooled

    def _bbox_forward(self, stage, x, rois, semantic_feat=None):
        extractor = self.bbox_roi_extractor[stage]
        bbox_feats = extractor(x[: extractor.num_inputs], rois)
        bbox_feats = self._fuse_semantic(
            bbox_feats, rois, semantic_feat, 'bbox'
        )
        cls_score, bbox_pred = self.bbox_head[stage](bbox_feats)
        return dict(cls_score=cls_score, bbox_pred=bbox_pred)

    def _mask_feats(self, stage, x, rois, semantic_feat):
        """(K, C, 14, 14) mask RoI features of stage ``stage``'s
        extractor, semantic feature added."""
        extractor = self.mask_roi_extractor[stage]
        feats = extractor(x[: extractor.num_inputs], rois)
        return self._fuse_semantic(feats, rois, semantic_feat, 'mask')

    def _all_stage_mask_logits(self, mask_feats):
        """Every stage's (K, C, 28, 28) mask logits of the same RoI
        features, the heads chained with the information flow."""
        logits, last_feat = [], None
        for head in self.mask_head:
            if self.mask_info_flow:
                pred, last_feat = head(mask_feats, last_feat)
            else:
                pred = head(mask_feats, return_feat=False)
            logits.append(pred)
        return logits

    def forward_dummy(self, x, proposals):
        """Raw outputs of every stage for (n, 4) ``proposals`` of one
        image (FLOPs counting)."""
        semantic_feat = self._semantic_feat(x)
        rois = bbox2roi([proposals])
        outs = ()
        for stage in range(self.num_stages):
            res = self._bbox_forward(stage, x, rois, semantic_feat)
            outs += (res['cls_score'], res['bbox_pred'])
        if self.with_mask:
            mask_feats = self._mask_feats(-1, x, rois[:100], semantic_feat)
            outs += tuple(self._all_stage_mask_logits(mask_feats))
        return outs

    # ---------------------------------------------------------- training
    def _bbox_forward_train(
        self, stage, x, sampling_results, semantic_feat=None
    ):
        rois = bbox2roi([res.bboxes for res in sampling_results])
        bbox_results = self._bbox_forward(stage, x, rois, semantic_feat)
        head = self.bbox_head[stage]
        bbox_targets = head.get_targets(
            sampling_results, None, None, self.train_cfg[stage]
        )
        loss_bbox = head.loss(
            bbox_results['cls_score'],
            bbox_results['bbox_pred'],
            rois,
            *bbox_targets,
        )
        bbox_results.update(
            loss_bbox=loss_bbox, rois=rois, bbox_targets=bbox_targets
        )
        return bbox_results

    def _mask_forward_train(
        self, stage, x, sampling_results, gt_masks, semantic_feat=None
    ):
        pos_rois = bbox2roi([res.pos_bboxes for res in sampling_results])
        mask_feats = self._mask_feats(stage, x, pos_rois, semantic_feat)
        head = self.mask_head[stage]
        if self.mask_info_flow:
            last_feat = None
            for prev in self.mask_head[:stage]:
                last_feat = prev(mask_feats, last_feat, return_logits=False)
            mask_pred = head(mask_feats, last_feat, return_feat=False)
        else:
            mask_pred = head(mask_feats, return_feat=False)
        mask_targets = head.get_targets(
            sampling_results, gt_masks, self.train_cfg[stage]
        )
        pos_labels = torch.cat([res.pos_gt_labels for res in sampling_results])
        return dict(loss_mask=head.loss(mask_pred, mask_targets, pos_labels))

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
        """``loss_semantic_seg`` (with a semantic head) and per-stage
        ``s{i}.loss_cls``, ``s{i}.acc``, ``s{i}.loss_bbox``,
        ``s{i}.loss_mask`` (losses weighted by ``stage_loss_weights[i]``).

        Args: as :meth:`CascadeRoIHead.forward_train`, plus
            gt_semantic_seg (Tensor, optional): (B, 1, H/8, W/8) class map
                of the padded batch (``SegRescale(scale_factor=1/8)``).
        """
        if gt_bboxes_ignore is None:
            gt_bboxes_ignore = [None] * len(img_metas)
        losses = dict()
        semantic_feat = None
        if self.with_semantic:
            semantic_pred, semantic_feat = self.semantic_head(x)
            losses['loss_semantic_seg'] = self.semantic_head.loss(
                semantic_pred, gt_semantic_seg
            )
        targets = (gt_bboxes, gt_labels, gt_bboxes_ignore)
        for stage in range(self.num_stages):
            self.current_stage = stage
            weight = self.stage_loss_weights[stage]
            sampling_results = self._sample(stage, x, proposal_list, *targets)
            bbox_results = self._bbox_forward_train(
                stage, x, sampling_results, semantic_feat
            )
            stage_losses = dict(bbox_results['loss_bbox'])
            refined = False
            if self.with_mask:
                if self.interleaved:
                    with torch.no_grad():
                        proposal_list = self._refine_train(
                            stage, bbox_results, sampling_results, img_metas
                        )
                        sampling_results = self._sample(
                            stage, x, proposal_list, *targets
                        )
                    refined = True
                stage_losses.update(
                    self._mask_forward_train(
                        stage, x, sampling_results, gt_masks, semantic_feat
                    )['loss_mask']
                )
            for name, value in stage_losses.items():
                losses[f's{stage}.{name}'] = (
                    value * weight if 'loss' in name else value
                )
            if stage < self.num_stages - 1 and not refined:
                with torch.no_grad():
                    proposal_list = self._refine_train(
                        stage, bbox_results, sampling_results, img_metas
                    )
        return losses

    # --------------------------------------------------------- inference
    def _stages_test(self, x, rois, counts, img_metas, **feats):
        """The cascade on (K, 5) ``rois`` (``counts`` per image);
        ``feats`` (e.g. ``semantic_feat``) go to ``_bbox_forward``.

        Returns:
            tuple: per image the last stage's RoIs, the class logits
            averaged over the stages and the last stage's deltas.
        """
        ms_scores = []
        for stage in range(self.num_stages):
            res = self._bbox_forward(stage, x, rois, **feats)
            scores = res['cls_score'].split(counts)
            preds = res['bbox_pred'].split(counts)
            rois_per_img = rois.split(counts)
            ms_scores.append(scores)
            if stage == self.num_stages - 1:
                break
            head = self.bbox_head[stage]
            rois = torch.cat(
                [
                    head.regress_by_class(r, s[:, :-1].argmax(1), p, meta)
                    if len(r)
                    else r
                    for r, s, p, meta in zip(
                        rois_per_img, scores, preds, img_metas
                    )
                ]
            )
        mean_scores = [
            sum(scores[i] for scores in ms_scores) / len(ms_scores)
            for i in range(len(counts))
        ]
        return rois_per_img, mean_scores, preds

    def simple_test(self, x, proposal_list, img_metas, rescale=False):
        """Detections of a batch without augmentation: per image
        ``num_classes`` (n, 5) arrays, with masks per image
        ``(bbox_results, segm_results)`` (``segm_results[c]`` a list of
        (H, W) bool masks)."""
        if sum(len(p) for p in proposal_list) == 0:
            return self._empty_results(len(proposal_list))
        semantic_feat = self._semantic_feat(x)
        counts = [len(p) for p in proposal_list]
        rois, scores, preds = self._stages_test(
            x,
            bbox2roi(proposal_list),
            counts,
            img_metas,
            semantic_feat=semantic_feat,
        )
        det_bboxes, det_labels = [], []
        last = self.bbox_head[-1]
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
        if not self.with_mask:
            return bbox_results
        segm_results = self._simple_test_mask(
            x, img_metas, det_bboxes, det_labels, semantic_feat, rescale
        )
        return list(zip(bbox_results, segm_results))

    def _simple_test_mask(
        self, x, img_metas, det_bboxes, det_labels, semantic_feat, rescale
    ):
        """Per image, per class masks: the sigmoid of every stage's logits
        (one pass through the chained heads) averaged."""
        num_classes = self.mask_head[-1].num_classes
        if all(len(b) == 0 for b in det_bboxes):
            return [[[] for _ in range(num_classes)] for _ in det_bboxes]
        scale_factors, input_bboxes = mask_inputs(
            det_bboxes, img_metas, rescale
        )
        mask_rois = bbox2roi(input_bboxes)
        mask_feats = self._mask_feats(-1, x, mask_rois, semantic_feat)
        probs = [
            logits.sigmoid()
            for logits in self._all_stage_mask_logits(mask_feats)
        ]
        mean_probs = (sum(probs) / len(probs)).split(
            [len(b) for b in det_bboxes]
        )
        return seg_masks_per_image(
            self.mask_head[-1],
            [p.cpu().numpy() for p in mean_probs],
            input_bboxes,
            det_labels,
            img_metas,
            scale_factors,
            self.test_cfg,
            rescale,
        )

    def aug_test(self, x, proposal_list, img_metas, rescale=False):
        """Detections of one image merged over test-time augmentations
        (boxes and masks in original-image pixels); arguments as
        :meth:`CascadeRoIHead.aug_test`."""
        cfg = self.test_cfg
        semantic_feats = [self._semantic_feat(feats) for feats in x]
        aug_bboxes, aug_scores = [], []
        for feats, meta, sem in zip(x, img_metas, semantic_feats):
            img_shape, scale_factor, flip, direction = _aug_geometry(meta[0])
            proposals = bbox_mapping(
                proposal_list[0][:, :4],
                img_shape,
                scale_factor,
                flip,
                direction,
            )
            rois, scores, preds = self._stages_test(
                feats,
                bbox2roi([proposals]),
                [len(proposals)],
                meta,
                semantic_feat=sem,
            )
            bboxes, scores = self.bbox_head[-1].get_bboxes(
                rois[0],
                scores[0],
                preds[0],
                img_shape,
                scale_factor,
                rescale=False,
                cfg=None,
            )
            aug_bboxes.append(bboxes)
            aug_scores.append(scores)
        bboxes, scores = merge_aug_bboxes(
            aug_bboxes, aug_scores, img_metas, cfg
        )
        det_bboxes, det_labels = multiclass_nms(
            bboxes, scores, cfg['score_thr'], cfg['nms'], cfg['max_per_img']
        )
        bbox_results = bbox2result(
            det_bboxes, det_labels, self.bbox_head[-1].num_classes
        )
        if not self.with_mask:
            return [bbox_results]
        return [
            (
                bbox_results,
                self._aug_test_masks(
                    x, img_metas, det_bboxes, det_labels, semantic_feats
                ),
            )
        ]

    def _aug_test_masks(
        self, x, img_metas, det_bboxes, det_labels, semantic_feats
    ):
        """Per class masks of one image's (n, 5) original-pixel detections:
        probabilities averaged over augmentations and stages."""
        if det_bboxes.size(0) == 0:
            return [[] for _ in range(self.mask_head[-1].num_classes)]
        aug_masks, aug_metas = [], []
        for feats, meta, sem in zip(x, img_metas, semantic_feats):
            img_shape, scale_factor, flip, direction = _aug_geometry(meta[0])
            bboxes = bbox_mapping(
                det_bboxes[:, :4], img_shape, scale_factor, flip, direction
            )
            mask_feats = self._mask_feats(-1, feats, bbox2roi([bboxes]), sem)
            for logits in self._all_stage_mask_logits(mask_feats):
                aug_masks.append(logits.sigmoid().cpu().numpy())
                aug_metas.append(meta)
        merged = merge_aug_masks(aug_masks, aug_metas, self.test_cfg)
        return self.mask_head[-1].get_seg_masks(
            merged,
            det_bboxes,
            det_labels,
            self.test_cfg,
            img_metas[0][0]['ori_shape'],
            scale_factor=1.0,
            rescale=False,
        )
